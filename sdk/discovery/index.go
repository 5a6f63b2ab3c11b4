package discovery

// nextIndex is the index to wait on after an answer carrying got, when the
// previous query waited on prev. As Consul's documentation advises, an
// index that went backwards (the agent restarted on an empty store, or a
// snapshot was restored) starts over from 0, which answers at once; an
// index of 0 is raised to 1 so that the next query blocks.
func nextIndex(prev, got uint64) uint64 {
	switch {
	case got < prev:
		return 0
	case got == 0:
		return 1
	}
	return got
}
