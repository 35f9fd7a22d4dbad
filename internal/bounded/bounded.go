// Package bounded reads a stream whole into a buffer its caller reuses,
// refusing more than a limit: a request body, an inflated body.
package bounded

import (
	"errors"
	"io"
)

// ErrTooLarge is the error of a stream longer than the limit.
var ErrTooLarge = errors.New("larger than the limit")

// ReadAll appends to buf[:0] what r holds up to its end, at most limit
// bytes. A stream longer than limit is refused with ErrTooLarge, having
// read limit+1 bytes of it; past the limit the size is the answer,
// whatever error follows. The buffer grows by doubling, from minGrow, up
// to limit+1, and is returned with every answer, for the caller to keep.
// Like io.ReadAll, it relies on r not to return (0, nil) for ever.
func ReadAll(r io.Reader, buf []byte, limit, minGrow int) ([]byte, error) {
	buf = buf[:0]
	minGrow = max(minGrow, 1)
	for {
		if len(buf) > limit {
			return buf, ErrTooLarge
		}
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(max(2*cap(buf), minGrow), limit+1))
			copy(nb, buf)
			buf = nb
		}
		k, err := r.Read(buf[len(buf):min(cap(buf), limit+1)])
		buf = buf[:len(buf)+k]
		if len(buf) > limit {
			return buf, ErrTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
