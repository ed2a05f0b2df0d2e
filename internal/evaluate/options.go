package evaluate

// Options tune AnalogiesWith, PairsWith, Bundled and File. The zero value
// is eval.py's: the default restricts and words looked up as written
// (case-folded).
type Options struct {
	// Restrict is the number of most frequent rows that take part; <= 0
	// for the default of each kind (DefaultAnalogyRestrict,
	// DefaultPairsRestrict).
	Restrict int
	// Normalize, if set, gives a second spelling to look a word up by
	// when its own (case-folded) is not in the vocabulary: a model's
	// tokenizer's form of it (NFKC, apostrophes), so that a file in any
	// language meets the vocabulary as queries do. It must be safe for
	// concurrent use.
	Normalize func(string) string
}

// lookup returns the row of word w in vocab (foldVocab's map): w
// case-folded, else its Normalize form case-folded.
func (o Options) lookup(vocab map[string]int, w string) (int, bool) {
	if row, ok := vocab[pyUpper(w)]; ok || o.Normalize == nil {
		return row, ok
	}
	n := o.Normalize(w)
	if n == w || n == "" {
		return 0, false
	}
	row, ok := vocab[pyUpper(n)]
	return row, ok
}
