package gpt2

import (
	"math"
	"math/rand"
	"slices"
	"sort"

	rt "nnscope/runtime"
)

// Sampling chooses the next token. The zero value is greedy decoding.
// It is taken as it is: TopK 0 keeps every token. (nnscope.Generate fills
// in what its options leave unsaid from generation_config.json and
// Hugging Face's defaults, top_k 50 among them, before it gets here.)
type Sampling struct {
	Temperature float64 // <= 0 or 1 with TopK == 0 and TopP == 0 and !Sample: greedy
	TopK        int     // keep the k most likely tokens (0 = all)
	TopP        float64 // keep the smallest set with probability >= p (0 or 1 = all)
	Seed        int64   // random seed for sampling
	Sample      bool    // sample instead of taking the argmax
}

// GenerateOptions configure Generate.
type GenerateOptions struct {
	MaxNewTokens int
	Sampling     Sampling
	StopAtEOS    bool
	EOS          int
	// MoreEOS are other end-of-text ids (config.json's eos_token_id list):
	// with StopAtEOS, a row also ends at any of them.
	MoreEOS []int
	// Hooks returns the hook point for step (0 = the prompt pass); nil
	// means none.
	Hooks func(step int) rt.Hooks
	// OnToken is called with each row's new token after every step (for
	// streaming); returning false stops generation.
	OnToken func(step int, tokens []int) bool
}

// Generate continues each row of in (left padded, see Batch) and returns
// the ids of every row: prompt followed by the new tokens. Rows that hit
// EOS keep receiving EOS until all rows are done, as Hugging Face pads
// finished rows.
func (m *Model) Generate(in Input, o GenerateOptions) [][]int {
	B := len(in.IDs)
	out := make([][]int, B)
	for b := range out {
		out[b] = append([]int(nil), in.IDs[b]...)
		if in.Mask != nil {
			out[b] = out[b][countPad(in.Mask[b]):]
		}
	}
	var rng *rand.Rand
	if o.Sampling.Sample {
		rng = rand.New(rand.NewSource(o.Sampling.Seed))
	}
	st := &State{}
	done := make([]bool, B)
	ended := make([]int, B) // the id that ended each finished row
	cur := in
	for step := 0; step < o.MaxNewTokens; step++ {
		var h rt.Hooks
		if o.Hooks != nil {
			h = o.Hooks(step)
		}
		var logits *rt.Tensor
		rt.NoGrad(func() { logits = m.Forward(h, cur, st) })
		T := logits.Shape()[1]
		next := make([]int, B)
		for b := 0; b < B; b++ {
			if done[b] {
				// Finished rows are padded with EOS, as Hugging Face pads
				// them, or with the id that ended them (one of MoreEOS)
				// when the model has no row for EOS.
				next[b] = o.EOS
				if o.EOS < 0 || o.EOS >= m.Config.VocabSize {
					next[b] = ended[b]
				}
				continue
			}
			row := logits.Select(0, b).Select(0, T-1).Data()
			next[b] = pick(row, o.Sampling, rng)
			if o.StopAtEOS && (next[b] == o.EOS || slices.Contains(o.MoreEOS, next[b])) {
				done[b], ended[b] = true, next[b]
			}
		}
		if h == nil {
			rt.Release(logits)
		}
		for b := range out {
			out[b] = append(out[b], next[b])
		}
		if o.OnToken != nil && !o.OnToken(step, next) {
			break
		}
		all := true
		for _, d := range done {
			all = all && d
		}
		if all || step == o.MaxNewTokens-1 {
			break
		}
		ids := make([][]int, B)
		for b := range ids {
			ids[b] = []int{next[b]}
		}
		cur = Input{IDs: ids}
		if in.Mask != nil {
			cur.Mask = make([][]float32, B)
			for b := range cur.Mask {
				cur.Mask[b] = []float32{1}
			}
		}
	}
	return out
}

func countPad(mask []float32) int {
	n := 0
	for _, v := range mask {
		if v != 0 {
			break
		}
		n++
	}
	return n
}

// pick chooses a token from one row of logits.
func pick(logits []float32, s Sampling, rng *rand.Rand) int {
	if !s.Sample || rng == nil {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return best
	}
	temp := s.Temperature
	if temp <= 0 {
		temp = 1
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	if s.TopK > 0 && s.TopK < len(idx) {
		idx = idx[:s.TopK]
	}
	probs := make([]float64, len(idx))
	mx := float64(logits[idx[0]]) / temp
	var sum float64
	for i, j := range idx {
		probs[i] = math.Exp(float64(logits[j])/temp - mx)
		sum += probs[i]
	}
	for i := range probs {
		probs[i] /= sum
	}
	if s.TopP > 0 && s.TopP < 1 {
		var c float64
		for i, p := range probs {
			c += p
			if c >= s.TopP {
				probs = probs[:i+1]
				idx = idx[:i+1]
				break
			}
		}
		sum = 0
		for _, p := range probs {
			sum += p
		}
		for i := range probs {
			probs[i] /= sum
		}
	}
	r := rng.Float64()
	for i, p := range probs {
		r -= p
		if r < 0 {
			return idx[i]
		}
	}
	return idx[len(idx)-1]
}
