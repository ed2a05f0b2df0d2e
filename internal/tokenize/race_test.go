//go:build race

package tokenize

// raceEnabled scales the big streaming tests down: the race detector makes
// them ten times slower.
const raceEnabled = true
