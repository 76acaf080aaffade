package gpt2

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"nnscope/runtime"
	"nnscope/safetensors"
)

// Weights are the model's parameters by Hugging Face name without the
// "transformer." prefix ("wte.weight", "h.0.attn.c_attn.weight", ...).
type Weights map[string]*runtime.Tensor

type namedShape struct {
	name  string
	shape []int
	dims  []string // the config key (or expression) behind each dimension, for errors
}

// weightList lists every parameter GPT-2 needs, in the model's order.
func weightList(c Config) []namedShape {
	C, V, P, I := c.NEmbd, c.VocabSize, c.NPositions, c.Inner()
	inner := "n_inner"
	if c.NInner == nil {
		inner = "4*n_embd"
	}
	vec := func(name string) namedShape { return namedShape{name, []int{C}, []string{"n_embd"}} }
	s := []namedShape{{"wte.weight", []int{V, C}, []string{"vocab_size", "n_embd"}}, {"wpe.weight", []int{P, C}, []string{"n_positions", "n_embd"}}}
	for i := 0; i < c.NLayer; i++ {
		p := fmt.Sprintf("h.%d.", i)
		s = append(s,
			vec(p+"ln_1.weight"), vec(p+"ln_1.bias"),
			namedShape{p + "attn.c_attn.weight", []int{C, 3 * C}, []string{"n_embd", "3*n_embd"}}, namedShape{p + "attn.c_attn.bias", []int{3 * C}, []string{"3*n_embd"}},
			namedShape{p + "attn.c_proj.weight", []int{C, C}, []string{"n_embd", "n_embd"}}, vec(p+"attn.c_proj.bias"),
			vec(p+"ln_2.weight"), vec(p+"ln_2.bias"),
			namedShape{p + "mlp.c_fc.weight", []int{C, I}, []string{"n_embd", inner}}, namedShape{p + "mlp.c_fc.bias", []int{I}, []string{inner}},
			namedShape{p + "mlp.c_proj.weight", []int{I, C}, []string{inner, "n_embd"}}, vec(p+"mlp.c_proj.bias"),
		)
	}
	s = append(s, vec("ln_f.weight"), vec("ln_f.bias"))
	if c.TieWordEmbeddings != nil && !*c.TieWordEmbeddings {
		s = append(s, namedShape{"lm_head.weight", []int{V, C}, []string{"vocab_size", "n_embd"}})
	}
	return s
}

// shapeMismatch explains a tensor whose shape is not the config's: the
// keys behind its dimensions, and those of the differing dimensions that
// config.json leaves out (they took Hugging Face's defaults).
func shapeMismatch(c Config, ws namedShape, got []int) string {
	msg := fmt.Sprintf("config.json implies %v (%s)", ws.shape, strings.Join(ws.dims, ", "))
	var told []string
	for i, d := range ws.dims {
		k := strings.TrimPrefix(strings.TrimPrefix(d, "3*"), "4*") // "3*n_embd": n_embd
		if len(got) == len(ws.shape) && got[i] == ws.shape[i] || !c.defaultedKey(k) || slices.Contains(told, k) {
			continue
		}
		told = append(told, k)
		msg += "; " + c.says(k, *c.shapeField(k)) + ": set it to the weights' value"
	}
	return msg
}

// WeightShapes lists every parameter GPT-2 needs with its shape.
func WeightShapes(c Config) map[string][]int {
	l := weightList(c)
	s := make(map[string][]int, len(l))
	for _, w := range l {
		s[w.name] = w.shape
	}
	return s
}

// IndexFile is the index of a sharded checkpoint (save_pretrained writes
// one when the weights exceed max_shard_size).
const IndexFile = "model.safetensors.index.json"

// otherWeightFiles are weight formats nnscope cannot read.
var otherWeightFiles = []string{"pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack", "model.ckpt.index"}

// weightSource is one safetensors file or the shards of a sharded
// checkpoint.
type weightSource struct {
	files []*safetensors.File
	where map[string]*safetensors.File // tensor key -> file holding it
	keys  []string                     // every tensor key, sorted
}

func (s *weightSource) Close() error {
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// openWeights opens path (".../model.safetensors"), or, when it does not
// exist, the sharded checkpoint described by model.safetensors.index.json
// beside it.
func openWeights(path string) (*weightSource, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		dir := filepath.Dir(path)
		if _, ierr := os.Stat(filepath.Join(dir, IndexFile)); ierr == nil {
			return openShards(dir)
		}
		return nil, missingWeightsError(dir, filepath.Base(path))
	}
	if err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s: is a folder, not a safetensors file", path)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	s := &weightSource{files: []*safetensors.File{f}, where: map[string]*safetensors.File{}, keys: f.Names()}
	for _, k := range s.keys {
		s.where[k] = f
	}
	return s, nil
}

// missingWeightsError explains a folder without safetensors weights,
// pointing at the conversion when it holds another format.
func missingWeightsError(dir, name string) error {
	return fmt.Errorf("%s: no %s (nor a sharded %s)%s", filepath.Join(dir, name), name, IndexFile, convertHint(dir))
}

// convertHint says how to convert the weights of another format that dir
// holds, or is "".
func convertHint(dir string) string {
	if f := otherWeightFile(dir); f != "" {
		return fmt.Sprintf("; the folder has %s, but nnscope reads only safetensors weights: convert them in Python with "+
			"transformers.AutoModelForCausalLM.from_pretrained(%q%s).save_pretrained(%q, safe_serialization=True)", f, dir, fromFlag(f), dir)
	}
	return ""
}

// fromFlag is the from_pretrained argument that reads the weights file f.
func fromFlag(f string) string {
	switch {
	case strings.HasPrefix(f, "tf_") || strings.HasPrefix(f, "model.ckpt"):
		return ", from_tf=True"
	case strings.HasPrefix(f, "flax_"):
		return ", from_flax=True"
	}
	return ""
}

// otherWeightFile returns the first weights file in a format nnscope
// cannot read that dir holds, or "".
func otherWeightFile(dir string) string {
	for _, f := range otherWeightFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return f
		}
	}
	return ""
}

// shardIndex is model.safetensors.index.json.
type shardIndex struct {
	WeightMap map[string]string `json:"weight_map"`
}

// ReadShardIndex reads a model.safetensors.index.json and returns its
// weight map (tensor -> shard file) and the shard files, in order. Shard
// names must be plain file names in the same folder.
func ReadShardIndex(path string) (map[string]string, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	return ParseShardIndex(path, b)
}

// ParseShardIndex parses the bytes of a model.safetensors.index.json; name
// is used in errors.
func ParseShardIndex(name string, b []byte) (map[string]string, []string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: %s", name, jsonErrorAt(b, err))
	}
	wm, ok := raw["weight_map"]
	if !ok || string(wm) == "null" {
		return nil, nil, fmt.Errorf("%s: key \"weight_map\": missing", name)
	}
	var idx shardIndex
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, nil, fmt.Errorf("%s: key \"weight_map\": want an object mapping tensor names to shard file names, got %s", name, clip(string(wm), 100))
	}
	if len(idx.WeightMap) == 0 {
		return nil, nil, fmt.Errorf("%s: key \"weight_map\": empty", name)
	}
	var shards []string
	for _, k := range slices.Sorted(maps.Keys(idx.WeightMap)) {
		f := idx.WeightMap[k]
		if f == "" || f != filepath.Base(f) || f == "." || f == ".." || strings.ContainsAny(f, `/\`) || !strings.HasSuffix(f, ".safetensors") {
			return nil, nil, fmt.Errorf("%s: tensor %q: shard %q is not a .safetensors file name in the same folder", name, k, clip(f, 100))
		}
		if !slices.Contains(shards, f) {
			shards = append(shards, f)
		}
	}
	slices.Sort(shards)
	return idx.WeightMap, shards, nil
}

func openShards(dir string) (*weightSource, error) {
	index := filepath.Join(dir, IndexFile)
	wm, shards, err := ReadShardIndex(index)
	if err != nil {
		return nil, err
	}
	s := &weightSource{where: map[string]*safetensors.File{}}
	byName := map[string]*safetensors.File{}
	for _, sh := range shards {
		p := filepath.Join(dir, sh)
		if _, err := os.Stat(p); err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: shard %s listed in %s: %w", p, sh, IndexFile, unwrapPath(err))
		}
		f, err := safetensors.Open(p)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.files = append(s.files, f)
		byName[sh] = f
	}
	for _, k := range slices.Sorted(maps.Keys(wm)) {
		f := byName[wm[k]]
		if _, err := f.Info(k); err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: tensor %q: %s says it is in %s, which does not have it", index, k, IndexFile, wm[k])
		}
		s.where[k] = f
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// layerOf returns N for a bare key "h.N.…", or -1.
func layerOf(bare string) int {
	rest, ok := strings.CutPrefix(bare, "h.")
	if !ok {
		return -1
	}
	num, _, ok := strings.Cut(rest, ".")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// LoadWeights reads a safetensors file in either key layout (the Hub's
// bare keys or save_pretrained's "transformer." prefix) and checks every
// tensor against the config. When path does not exist but a sharded
// checkpoint's model.safetensors.index.json is beside it, the shards are
// read. float32 tensors alias the memory-mapped files; the returned closer
// unmaps them. Errors name the file and the tensor.
func LoadWeights(path string, c Config) (Weights, io.Closer, error) {
	src, err := openWeights(path)
	if err != nil {
		return nil, nil, err
	}
	w, err := loadWeights(src, path, c)
	if err != nil {
		src.Close()
		return nil, nil, err
	}
	return w, src, nil
}

var weightDtypes = []safetensors.Dtype{safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64}

func loadWeights(src *weightSource, path string, c Config) (Weights, error) {
	name := filepath.Base(path)
	if len(src.files) > 1 || (len(src.files) == 1 && src.files[0].Path() != path) {
		name = IndexFile
	}
	fileOf := func(key string) string { return filepath.Base(src.where[key].Path()) }
	list := weightList(c)
	want := make(map[string]bool, len(list))
	for _, ws := range list {
		want[ws.name] = true
	}
	have := map[string]string{} // bare name -> key in the file
	layers := 0                 // layers the file has tensors for
	for _, k := range src.keys {
		bare := strings.TrimPrefix(k, "transformer.")
		if prev, dup := have[bare]; dup && want[bare] {
			return nil, fmt.Errorf("%s: has both %q and %q: which one is meant?", name, prev, k)
		}
		have[bare] = k
		if n := layerOf(bare); n >= 0 && n+1 > layers {
			layers = n + 1
		}
	}
	if layers > c.NLayer {
		return nil, fmt.Errorf("%s: has tensors for %d layers (h.0 to h.%d), but %s", name, layers, layers-1, c.says("n_layer", c.NLayer))
	}
	tied := c.TieWordEmbeddings == nil || *c.TieWordEmbeddings
	w := Weights{}
	for _, ws := range list {
		key, ok := have[ws.name]
		if !ok && ws.name == "wte.weight" && tied {
			// A tied pair saved under the other name, as
			// safetensors.torch.save_model keeps it (the first name in
			// sorted order): Hugging Face ties wte to it.
			key, ok = have["lm_head.weight"]
		}
		if !ok {
			switch n := layerOf(ws.name); {
			case n >= layers:
				return nil, fmt.Errorf("%s: tensor %q is missing: %s, but the file has tensors for %d layers", name, ws.name, c.says("n_layer", c.NLayer), layers)
			case ws.name == "lm_head.weight":
				return nil, fmt.Errorf("%s: tensor %q is missing: config.json sets tie_word_embeddings false, so the model needs its own lm_head (remove the key to tie it to wte)", name, ws.name)
			default:
				return nil, fmt.Errorf("%s: tensor %q is missing (the config asks for %d layers, n_embd %d%s)", name, ws.name, c.NLayer, c.NEmbd, c.unset("n_embd"))
			}
		}
		info, err := src.where[key].Info(key)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(info.Shape, ws.shape) {
			return nil, fmt.Errorf("%s: tensor %q has shape %v, %s", fileOf(key), key, info.Shape, shapeMismatch(c, ws, info.Shape))
		}
		if !slices.Contains(weightDtypes, info.Dtype) {
			return nil, fmt.Errorf("%s: tensor %q has dtype %s; weights must be F32, F16, BF16 or F64", fileOf(key), key, info.Dtype)
		}
		data, _, err := src.where[key].Float32(key)
		if err != nil {
			return nil, err
		}
		w[ws.name] = runtime.FromReadOnly(data, ws.shape...)
	}
	return w, nil
}
