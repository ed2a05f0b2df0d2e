// Package evaluate scores a set of word vectors against the standard
// evaluation sets: the Google analogy questions (questions-words.txt) and
// the word-pair similarity sets (WordSim-353, SimLex-999, MEN, Stanford Rare
// Words). It owns the parsing of those files and the scoring rules. It
// knows nothing of HTTP, jobs or stores, and does not log.
//
// The figures are those of the project's reference evaluator,
// shared/bench/eval.py (itself checked against gensim's
// evaluate_word_analogies and evaluate_word_pairs): the golden test scores
// a random vector set with both and requires the same analogy counts and
// the same correlations to 1e-6. The rules, all from eval.py:
//
// Vocabulary. Words are looked up without regard to case: a word and a
// vocabulary entry match when their Python str.upper forms are equal (full
// case mapping, so "ß" matches "SS"). Rows are in descending frequency, and
// when several spellings fold to the same form the first row (the most
// frequent spelling) wins. Only the first restrict rows take part, for
// lookups and, in analogies, as candidate answers.
//
// Analogies (3CosAdd). The file has section headers (lines that start with
// ": ") and questions (lines of exactly four white-space separated words
// "a b c d", read "a is to b as c is to d"); other lines are ignored, and
// questions before the first header go to a section named "default". A
// question is scored only when all four words are in the vocabulary (the
// others count against coverage). The answer is the row, among the first
// restrict rows and other than a, b and c, with the highest cosine to
// unit((b + c - a)/3), where a, b and c are unit-length rows; ties go to
// the earlier row. It is correct when it is d's row. Sections whose name
// starts with "gram" are syntactic, the others semantic. The default
// restrict is 30,000 (DefaultAnalogyRestrict).
//
// Word pairs. Blank lines and lines starting with "#" are ignored. A line
// is split on tabs if it has one, else on commas if it has one, else on
// white space; fields are trimmed and lines with fewer than 3 are ignored.
// The score is the third field, unless a line whose score field is not a
// number (a header row) names another: a field "SimLex999" or "SimLex-999"
// (any case), else the first field from the third on containing "mean",
// "score" or "sim"; SimLex-999's original 10-column file is read this way.
// Each pair in the vocabulary is scored with the cosine of its unit rows,
// and the result is Spearman's rho (average ranks for ties) and Pearson's r
// between the human scores and the cosines. The default restrict is
// 300,000 (DefaultPairsRestrict), gensim's restrict_vocab.
//
// Differences from eval.py, for inputs it does not handle: an input with no
// question (or no pair) is an ErrFormat error where eval.py reports NaN
// figures; a pair score of "nan" or "inf" is an ErrFormat error where
// eval.py yields a NaN Pearson; a figure eval.py would give as NaN (an
// accuracy over zero questions, a correlation over fewer than two pairs or
// over constant values) is 0 here, so every result field is a finite
// number; bytes that are not UTF-8 each become one U+FFFD here, where
// Python may merge a run of them into one.
//
// Files are read as eval.py reads them in Python: lines end at "\n",
// "\r\n" or "\r"; white space is Unicode white space (str.split);
// numbers are what Python's float() accepts.
package evaluate
