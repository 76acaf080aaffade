package gpt2

import (
	"context"

	"nnscope/hub"
)

// LoadPretrained loads a model from a local folder or a Hugging Face Hub id
// ("openai-community/gpt2"), using the Hugging Face cache and downloading
// into it when needed (see package hub).
func LoadPretrained(ctx context.Context, idOrPath string, opts hub.Options) (*Model, error) {
	dir, err := hub.Resolve(ctx, idOrPath, opts)
	if err != nil {
		return nil, err
	}
	return Load(dir)
}
