//go:build !linux

package word2vec

func adviseHugePages([]float32) {}
