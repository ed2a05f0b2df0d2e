//go:build race

package word2vec

// raceEnabled: Hogwild training with several goroutines races by design
// (see the package doc), so those tests run only without -race.
const raceEnabled = true
