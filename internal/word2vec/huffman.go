package word2vec

// huffman holds, for every word, its path from the root of a Huffman tree
// built on the word counts (word2vec.c's CreateBinaryTree): the inner nodes
// visited (rows of the output matrix) and the branch taken at each (0/1).
type huffman struct {
	offsets []int32 // word i's path is points[offsets[i]:offsets[i+1]]
	points  []int32
	codes   []uint8
}

// newHuffman builds the tree. counts must be in descending order, so the
// two-queue construction runs in linear time. There are len(counts)-1
// inner nodes.
func newHuffman(counts []int64) *huffman {
	v := len(counts)
	h := &huffman{offsets: make([]int32, v+1)}
	if v < 2 {
		// A single word has an empty path: nothing to predict.
		return h
	}
	// Nodes 0..v-1 are leaves, v..2v-2 inner nodes.
	count := make([]int64, 2*v-1)
	parent := make([]int32, 2*v-1)
	branch := make([]uint8, 2*v-1)
	copy(count, counts)
	leaf, inner := v-1, v // next smallest leaf (counts descend), next unused inner node
	next := v
	pick := func() int {
		if leaf >= 0 && (inner >= next || count[leaf] < count[inner]) {
			leaf--
			return leaf + 1
		}
		inner++
		return inner - 1
	}
	for ; next < 2*v-1; next++ {
		a := pick()
		b := pick()
		count[next] = count[a] + count[b]
		parent[a], parent[b] = int32(next), int32(next)
		branch[b] = 1
	}
	root := int32(2*v - 2)
	total := 0
	depth := make([]int32, v)
	for i := 0; i < v; i++ {
		d := int32(0)
		for n := int32(i); n != root; n = parent[n] {
			d++
		}
		depth[i] = d
		total += int(d)
	}
	h.points = make([]int32, total)
	h.codes = make([]uint8, total)
	off := int32(0)
	for i := 0; i < v; i++ {
		h.offsets[i] = off
		d := depth[i]
		// Walk leaf to root, filling from the end so the path reads root first.
		k := off + d - 1
		for n := int32(i); n != root; n = parent[n] {
			h.codes[k] = branch[n]
			h.points[k] = parent[n] - int32(v) // inner node index = output row
			k--
		}
		off += d
	}
	h.offsets[v] = off
	return h
}

func (h *huffman) path(w int32) (points []int32, codes []uint8) {
	a, b := h.offsets[w], h.offsets[w+1]
	return h.points[a:b], h.codes[a:b]
}
