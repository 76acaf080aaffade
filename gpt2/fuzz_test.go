package gpt2

import "testing"

// FuzzParseConfig: any bytes give a Config or an error naming the file,
// never a panic, and an accepted config is one the model can be built for.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"vocab_size": 50257, "n_positions": 64, "n_embd": 32, "n_layer": 3, "n_head": 4}`))
	f.Add([]byte(`{"vocab_size": 1, "n_positions": 1, "n_embd": 2, "n_layer": 1, "n_head": 2, "n_inner": null}`))
	f.Add([]byte(`{"n_embd": "32"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("config.json", data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if c.NEmbd <= 0 || c.NHead <= 0 || c.NEmbd%c.NHead != 0 || c.NLayer <= 0 || c.VocabSize <= 0 || c.NPositions <= 0 {
			t.Fatalf("accepted an unusable config %+v", c)
		}
		_ = WeightShapes(c)
	})
}
