package gpt2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"nnscope/hub"
	"nnscope/internal/reference"
	"nnscope/safetensors"
)

const tinyConfig = `{"model_type": "gpt2", "vocab_size": 50257, "n_positions": 64, "n_embd": 32, "n_layer": 3, "n_head": 4}`

// withKey returns tinyConfig with key set to the raw JSON value (or
// removed when value is "").
func withKey(t *testing.T, key, value string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(tinyConfig), &m); err != nil {
		t.Fatal(err)
	}
	if value == "" {
		delete(m, key)
	} else {
		m[key] = json.RawMessage(value)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseConfigErrors(t *testing.T) {
	cases := []struct {
		name   string
		config string
		want   []string // substrings of the error; none: accepted
	}{
		{"empty", "", []string{"config.json", "empty file"}},
		{"spaces", " \n ", []string{"config.json", "empty file"}},
		{"null", "null", []string{"config.json", "got null"}},
		{"array", "[1, 2]", []string{"config.json", "want an object, got array"}},
		{"truncated", "{\n  \"vocab_size\": 50257,\n  \"n_embd\": ", []string{"config.json", "line 3, column 12"}},
		{"garbage", "{\"vocab_size\": 50257,\n x}", []string{"config.json", "line 2, column 2", "invalid character 'x'"}},
		{"byte order mark", "\xef\xbb\xbf" + tinyConfig, nil},
		{"string size", withKey(t, "n_embd", `"32"`), []string{`key "n_embd"`, `bad value "32"`, "want a positive integer"}},
		{"float size", withKey(t, "n_embd", `32.0`), []string{`key "n_embd"`, "want a positive integer"}},
		{"int overflow", withKey(t, "n_layer", `1e30`), []string{`key "n_layer"`, "bad value"}},
		{"bool as string", withKey(t, "tie_word_embeddings", `"false"`), []string{`key "tie_word_embeddings"`, "true or false"}},
		{"missing n_layer", withKey(t, "n_layer", ""), nil}, // GPT2Config's default 12 (TestConfigDefaults)
		{"null n_embd", withKey(t, "n_embd", "null"), []string{`key "n_embd"`, "null", "default 768"}},
		{"missing n_head", withKey(t, "n_head", ""), []string{`key "n_head"`, "n_head 12 (not set: Hugging Face's default)"}},
		{"zero heads", withKey(t, "n_head", "0"), []string{`key "n_head"`, "must be positive, got 0"}},
		{"alias agrees", withKey(t, "hidden_size", "32"), nil},
		{"alias disagrees", withKey(t, "num_hidden_layers", "4"), []string{`key "num_hidden_layers"`, `"n_layer"`, "which one"}},
		{"negative width", withKey(t, "n_embd", "-32"), []string{`key "n_embd"`, "got -32"}},
		{"not divisible", withKey(t, "n_head", "5"), []string{`key "n_head"`, "not divisible"}},
		{"llama", withKey(t, "model_type", `"llama"`), []string{`key "model_type"`, `"llama" is not a GPT-2 model`}},
		{"llama architecture", withKey(t, "model_type", "") + "", nil},
		{"huge n_layer", withKey(t, "n_layer", "1000000000"), []string{`key "n_layer"`, "limit 10000"}},
		{"huge vocab", withKey(t, "vocab_size", "1000000000000"), []string{`key "vocab_size"`, "limit"}},
		{"huge n_embd", `{"vocab_size": 50257, "n_positions": 64, "n_embd": 4611686018427387904, "n_layer": 3, "n_head": 1}`, []string{`key "n_embd"`, "limit"}},
		{"huge n_inner", withKey(t, "n_inner", "4611686018427387904"), []string{`key "n_inner"`}},
		{"negative n_inner", withKey(t, "n_inner", "-5"), []string{`key "n_inner"`, "got -5"}},
		{"zero n_inner", withKey(t, "n_inner", "0"), []string{`key "n_inner"`}},
		{"null n_inner", withKey(t, "n_inner", "null"), nil},
		{"negative eps", withKey(t, "layer_norm_epsilon", "-1"), []string{`key "layer_norm_epsilon"`}},
		{"eos list", withKey(t, "eos_token_id", "[50256, 0]"), nil},
		{"unknown activation", withKey(t, "activation_function", `"swiglu"`), []string{`key "activation_function"`, "swiglu"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			cfg, err := ParseConfig("config.json", []byte(c.config))
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if len(WeightShapes(cfg)) == 0 {
					t.Fatal("no weights")
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %+v", cfg)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// architectures names the class when model_type is absent.
	bad := strings.Replace(withKey(t, "model_type", ""), "{", `{"architectures": ["LlamaForCausalLM"], `, 1)
	if _, err := ParseConfig("config.json", []byte(bad)); err == nil || !strings.Contains(err.Error(), `key "architectures"`) {
		t.Errorf("LlamaForCausalLM: %v", err)
	}
	good := strings.Replace(withKey(t, "model_type", ""), "{", `{"architectures": ["GPT2LMHeadModel"], `, 1)
	if _, err := ParseConfig("config.json", []byte(good)); err != nil {
		t.Errorf("GPT2LMHeadModel: %v", err)
	}
}

// TestConfigAliases: GPT2Config's attribute_map names (hidden_size,
// num_hidden_layers, num_attention_heads, max_position_embeddings) are
// read as Hugging Face reads them, and errors name the key the file has.
func TestConfigAliases(t *testing.T) {
	want, err := ParseConfig("config.json", []byte(tinyConfig))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(tinyConfig), &m); err != nil {
		t.Fatal(err)
	}
	for alias, key := range map[string]string{"hidden_size": "n_embd", "num_hidden_layers": "n_layer", "num_attention_heads": "n_head", "max_position_embeddings": "n_positions"} {
		m[alias] = m[key]
		delete(m, key)
	}
	b, _ := json.Marshal(m)
	got, err := ParseConfig("config.json", b)
	if err != nil {
		t.Fatal(err)
	}
	if !configsEqual(got, want) {
		t.Errorf("with generic names: %+v, want %+v", got, want)
	}
	m["num_attention_heads"] = 5
	b, _ = json.Marshal(m)
	if _, err := ParseConfig("config.json", b); err == nil || !strings.Contains(err.Error(), `key "num_attention_heads"`) || !strings.Contains(err.Error(), "hidden_size 32 is not divisible by num_attention_heads 5") {
		t.Errorf("bad num_attention_heads: %v", err)
	}
	m["num_attention_heads"] = "4"
	b, _ = json.Marshal(m)
	if _, err := ParseConfig("config.json", b); err == nil || !strings.Contains(err.Error(), `key "num_attention_heads"`) || !strings.Contains(err.Error(), `bad value "4"`) {
		t.Errorf("num_attention_heads as a string: %v", err)
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadConfig(filepath.Join(dir, "config.json")); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "config.json")) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.Mkdir(filepath.Join(dir, "sub", "config.json"), 0o755)
	if _, err := LoadConfig(filepath.Join(dir, "sub", "config.json")); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("folder: %v", err)
	}
}

// TestLoadWeightErrors: weight files that do not fit the config name the
// file, the tensor and what is wrong.
func TestLoadWeightErrors(t *testing.T) {
	type ts = map[string]safetensors.Tensor
	cases := []struct {
		name   string
		edit   func(ts)
		config string
		want   []string
	}{
		{"fewer layers in config than file", nil, withKey(t, "n_layer", "2"),
			[]string{"model.safetensors", "3 layers", "n_layer 2"}},
		{"more layers in config than file", nil, withKey(t, "n_layer", "4"),
			[]string{"model.safetensors", `"h.3.ln_1.weight"`, "n_layer 4", "3 layers"}},
		{"both key layouts", func(m ts) { m["transformer.wte.weight"] = m["wte.weight"] }, "",
			[]string{"model.safetensors", `"wte.weight"`, `"transformer.wte.weight"`}},
		{"integer weights", func(m ts) {
			v := m["ln_f.bias"]
			m["ln_f.bias"] = safetensors.Tensor{Dtype: "I64", Shape: v.Shape, Raw: make([]byte, 8*len(v.Data))}
		}, "", []string{"model.safetensors", `"ln_f.bias"`, "dtype I64", "F32, F16, BF16 or F64"}},
		{"untied head missing", nil, withKey(t, "tie_word_embeddings", "false"),
			[]string{"model.safetensors", `"lm_head.weight"`, "tie_word_embeddings"}},
		{"vocab smaller than file", nil, withKey(t, "vocab_size", "1000"),
			[]string{"model.safetensors", `"wte.weight"`, "[50257 32]", "[1000 32]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := tinyTensors(t)
			if c.edit != nil {
				c.edit(m)
			}
			_, err := Load(writeModel(t, m, c.config))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// Unknown extra tensors are ignored, as Hugging Face does.
	m := tinyTensors(t)
	m["score.weight"] = safetensors.Tensor{Dtype: "F32", Shape: []int{2}, Data: []float32{1, 2}}
	model, err := Load(writeModel(t, m, ""))
	if err != nil {
		t.Fatalf("extra tensor: %v", err)
	}
	model.Close()
}

// writeShards writes the fixture as a sharded checkpoint of n files.
func writeShards(t *testing.T, n int) string {
	t.Helper()
	all := tinyTensors(t)
	names := make([]string, 0, len(all))
	for k := range all {
		names = append(names, k)
	}
	sort.Strings(names)
	dir := t.TempDir()
	cfg, _ := os.ReadFile(filepath.Join(reference.Dir(), "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
	wm := map[string]string{}
	shards := make([]map[string]safetensors.Tensor, n)
	for i, k := range names {
		s := i * n / len(names)
		if shards[s] == nil {
			shards[s] = map[string]safetensors.Tensor{}
		}
		shards[s][k] = all[k]
		wm[k] = shardName(s, n)
	}
	for s, m := range shards {
		if err := safetensors.Write(filepath.Join(dir, shardName(s, n)), m, map[string]string{"format": "pt"}); err != nil {
			t.Fatal(err)
		}
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 1}, "weight_map": wm})
	os.WriteFile(filepath.Join(dir, IndexFile), idx, 0o644)
	return dir
}

func shardName(i, n int) string {
	return "model-0000" + string(rune('1'+i)) + "-of-0000" + string(rune('0'+n)) + ".safetensors"
}

func TestShardedCheckpoint(t *testing.T) {
	dir := writeShards(t, 2)
	m, err := LoadPretrained(context.Background(), dir, hub.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ref, err := Load(reference.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if err := reference.Close(forwardLogitsSlice(t, m), forwardLogitsSlice(t, ref), 1e-6); err != nil {
		t.Errorf("sharded checkpoint gives different logits: %v", err)
	}
}

func TestShardedCheckpointErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(t *testing.T, dir string)
		want []string
	}{
		{"missing shard", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, shardName(1, 2))) },
			[]string{shardName(1, 2)}},
		{"index not json", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, IndexFile), []byte("{\n\"weight_map\": {,}"), 0o644)
		},
			[]string{IndexFile, "line 2"}},
		{"weight_map wrong type", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, IndexFile), []byte(`{"weight_map": 5}`), 0o644)
		}, []string{IndexFile, `"weight_map"`, "got 5"}},
		{"no weight_map", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, IndexFile), []byte(`{}`), 0o644) },
			[]string{IndexFile, `"weight_map"`, "missing"}},
		{"path traversal", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, IndexFile), []byte(`{"weight_map": {"wte.weight": "../../etc/passwd"}}`), 0o644)
		}, []string{IndexFile, `"wte.weight"`, "../../etc/passwd", "not a .safetensors file name"}},
		{"index points at the wrong shard", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, IndexFile))
			var idx map[string]map[string]any
			json.Unmarshal(b, &idx)
			idx["weight_map"]["wte.weight"] = shardName(0, 2)
			b, _ = json.Marshal(idx)
			os.WriteFile(filepath.Join(dir, IndexFile), b, 0o644)
		}, []string{IndexFile, `"wte.weight"`, shardName(0, 2), "does not have it"}},
		{"tensor missing from every shard", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, IndexFile))
			var idx map[string]map[string]any
			json.Unmarshal(b, &idx)
			delete(idx["weight_map"], "ln_f.bias")
			b, _ = json.Marshal(idx)
			os.WriteFile(filepath.Join(dir, IndexFile), b, 0o644)
		}, []string{IndexFile, `"ln_f.bias"`, "missing"}},
		{"truncated shard", func(t *testing.T, dir string) {
			p := filepath.Join(dir, shardName(0, 2))
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()/2)
		}, []string{shardName(0, 2), "truncated"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeShards(t, 2)
			c.edit(t, dir)
			m, err := LoadPretrained(context.Background(), dir, hub.Options{})
			if err == nil {
				m.Close()
				t.Fatal("loaded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestOtherWeightFormats: a folder with weights nnscope cannot read says
// how to convert them.
func TestOtherWeightFormats(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"pytorch_model.bin", `from_pretrained("DIR").save_pretrained("DIR", safe_serialization=True)`},
		{"tf_model.h5", "from_tf=True"},
		{"flax_model.msgpack", "from_flax=True"},
		{"", "nor a sharded " + IndexFile},
	} {
		dir := t.TempDir()
		cfg, _ := os.ReadFile(filepath.Join(reference.Dir(), "config.json"))
		os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)
		if c.file != "" {
			os.WriteFile(filepath.Join(dir, c.file), []byte("x"), 0o644)
		}
		_, err := LoadPretrained(context.Background(), dir, hub.Options{})
		want := strings.ReplaceAll(c.want, "DIR", dir)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "model.safetensors") {
			t.Errorf("%s: %v does not mention %q", c.file, err, want)
		}
		// Load (no hub) says the same.
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load %s: %v does not mention %q", c.file, err, want)
		}
	}
}

// miniHub serves files like huggingface.co's /ORG/NAME/resolve/REV/FILE.
func miniHub(t *testing.T, files map[string][]byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.SplitN(r.URL.Path, "/", 6) // "", org, name, resolve, rev, file
		if len(parts) < 6 {
			http.NotFound(w, r)
			return
		}
		b, ok := files[parts[5]]
		if !ok {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		sum := sha256.Sum256(b)
		w.Header().Set("X-Repo-Commit", "0123456789abcdef0123456789abcdef01234567")
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestShardedFromHub: a Hub model without model.safetensors is fetched as
// its index and shards; one with only pytorch_model.bin says what is needed.
func TestShardedFromHub(t *testing.T) {
	dir := writeShards(t, 2)
	files := map[string][]byte{}
	for _, f := range []string{"config.json", IndexFile, shardName(0, 2), shardName(1, 2)} {
		files[f], _ = os.ReadFile(filepath.Join(dir, f))
	}
	srv := miniHub(t, files)
	cache := t.TempDir()
	m, err := LoadPretrained(context.Background(), "org/sharded", hub.Options{Endpoint: srv.URL, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	// Then offline, from the cache.
	m, err = LoadPretrained(context.Background(), "org/sharded", hub.Options{CacheDir: cache, Offline: true})
	if err != nil {
		t.Fatalf("offline from the cache: %v", err)
	}
	m.Close()

	srv = miniHub(t, map[string][]byte{"config.json": files["config.json"], "pytorch_model.bin": []byte("x")})
	_, err = LoadPretrained(context.Background(), "org/old", hub.Options{Endpoint: srv.URL, CacheDir: t.TempDir()})
	var he *hub.HTTPError
	if !errors.As(err, &he) || !strings.Contains(err.Error(), "model.safetensors") || !strings.Contains(err.Error(), "safetensors weights") {
		t.Errorf("pytorch only: %v", err)
	}
}
