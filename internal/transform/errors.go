package transform

import "errors"

// Configuration errors. Compile and CompileDrops wrap them with the entry at
// fault (fmt.Errorf("…: %w", …)); test them with errors.Is.
var (
	// ErrNoSets: TransformingSource's transformations list is empty (MAD's
	// builder marks it @NotEmpty).
	ErrNoSets = errors.New("transform: transformations must not be empty")
	// ErrNoDropSets: TagDroppingSource's dropSets list is empty (@NotEmpty).
	ErrNoDropSets = errors.New("transform: dropSets must not be empty")
	// ErrEmptyValue: an injectDimensions entry has an empty value (MAD's
	// DimensionInjection marks value @NotNull @NotEmpty).
	ErrEmptyValue = errors.New("transform: injectDimensions value must not be empty")
	// ErrEmptyPattern: a dropSet's metricPattern is empty (@NotEmpty).
	ErrEmptyPattern = errors.New("transform: metricPattern must not be empty")
	// ErrPattern: a pattern is not a regular expression mad can run with
	// Java's meaning (invalid, or a Java feature Go's RE2 lacks).
	ErrPattern = errors.New("transform: unsupported pattern")
	// ErrTemplate: a transformMetrics template MAD's RegexAndMapReplacer
	// would throw on (MAD throws when a metric first matches; mad refuses
	// the configuration).
	ErrTemplate = errors.New("transform: invalid template")
)

// Errors of Apply: the expansion of a template for one series ends in tags
// that MAD's Guava splitter refuses (MAD throws and loses the record). Apply
// then gives no output for the series and returns one of these (unwrapped:
// Apply allocates nothing).
var (
	// ErrTagEntry: a ';'-separated tag entry does not split into exactly
	// two parts at '=' (Guava: "Chunk [...] is not a valid entry").
	ErrTagEntry = errors.New("transform: tag entry after ';' is not key=value")
	// ErrTagDuplicate: a tag key appears twice after ';' (Guava:
	// "Duplicate key [...] found.").
	ErrTagDuplicate = errors.New("transform: duplicate tag key after ';'")
)
