// Package affinity decides how many cores mad may use and pins data-plane
// loops to them: the CPU set of the process, the cgroup CPU quota, and
// runtime.LockOSThread plus sched_setaffinity on Linux. Pinning is optional
// and degrades to no pinning where it is not permitted.
package affinity
