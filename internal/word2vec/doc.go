// Package word2vec trains word vectors from a stream of tokenised sentences
// with the skip-gram and CBOW models of Mikolov et al., "Efficient
// Estimation of Word Representations in Vector Space" (2013) and
// "Distributed Representations of Words and Phrases and their
// Compositionality" (2013), following the update rules of their reference
// implementation, word2vec.c: negative sampling from a unigram^0.75
// distribution or hierarchical softmax over a Huffman tree, frequent-word
// subsampling, a dynamic (randomly reduced) window, and a learning rate that
// decays linearly over all epochs down to alpha*1e-4.
//
// Skip-gram with negative sampling shares one draw of negatives among all
// context words of a window (Ji et al., "Parallelizing Word2Vec in Shared
// and Distributed Memory", 2016), so the output rows a window touches are
// fetched once; the update rules per (context, target) pair are the ones
// of word2vec.c.
//
// With Config.MaxN > 0 it trains fastText's subword model instead
// (Bojanowski et al., "Enriching Word Vectors with Subword Information",
// 2017; subword.go): a word's input vector is the mean of its own row and
// its character n-grams' rows, and the result holds the composed word
// vectors and the n-gram rows (vectors.Subwords), so that words outside
// the vocabulary get vectors too.
//
// Training reads the corpus once: the first pass counts words and keeps the
// corpus in memory as 4-byte word ids (sentence boundaries included), so
// epochs never tokenise again. The vocabulary is then sorted by descending
// count, words below MinCount and beyond MaxVocab dropped, and the stored
// corpus compacted in place.
//
// Concurrency: Threads goroutines train "Hogwild" (Recht et al. 2011): they
// read and write the shared weight matrices without locks, a deliberate
// data race that word2vec.c, gensim and fastText all rely on. The race is
// confined to this package; each goroutine has its own random generator
// and scratch buffers. With Threads = 1 and a fixed Seed the output is
// bit-identical from run to run, and that mode is race-free.
//
// The package knows nothing of HTTP, jobs or stores: it reports progress
// through a callback and stops when its context is cancelled.
package word2vec
