package gpt2

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"nnscope/hub"
)

// LoadPretrained loads a model from a local folder or a Hugging Face Hub id
// ("openai-community/gpt2"), using the Hugging Face cache and downloading
// into it when needed (see package hub). A model without model.safetensors
// but with a sharded checkpoint (model.safetensors.index.json and its
// shards, as save_pretrained writes for large models) is loaded from the
// shards.
//
// A download also fetches the model's tokenizer files (TokenizerFiles) and
// generation_config.json when the repository has them, for models with a
// vocabulary, end-of-text ids or generation defaults of their own.
func LoadPretrained(ctx context.Context, idOrPath string, opts hub.Options) (*Model, error) {
	if opts.Optional == nil {
		opts.Optional = append(slices.Clone(TokenizerFiles), GenerationConfigFile)
	}
	dir, err := hub.Resolve(ctx, idOrPath, opts)
	if err != nil {
		if len(opts.Files) != 0 || !weightsMissing(err) {
			return nil, err
		}
		dir, err = resolveShards(ctx, idOrPath, opts, err)
		if err != nil {
			return nil, err
		}
	}
	return Load(dir)
}

// weightsMissing reports whether err says that model.safetensors, and only
// it, is missing from a local folder, the cache (offline) or the Hub.
func weightsMissing(err error) bool {
	var me *hub.MissingError
	if errors.As(err, &me) {
		return slices.Equal(me.Files, []string{"model.safetensors"})
	}
	var he *hub.HTTPError
	if errors.As(err, &he) {
		return errors.Is(err, hub.ErrNotFound) && he.File == "model.safetensors"
	}
	return false
}

// resolveShards retries Resolve for a sharded checkpoint: the index first,
// then the shards it lists. When there is no index either, the original
// error is returned, with a hint when the model has weights in a format
// nnscope cannot read.
func resolveShards(ctx context.Context, idOrPath string, opts hub.Options, orig error) (string, error) {
	o := opts
	o.Files = []string{"config.json", IndexFile}
	dir, err := hub.Resolve(ctx, idOrPath, o)
	if err != nil {
		return "", noWeightsError(idOrPath, orig)
	}
	_, shards, err := ReadShardIndex(filepath.Join(dir, IndexFile))
	if err != nil {
		return "", err
	}
	o.Files = append(o.Files, shards...)
	return hub.Resolve(ctx, idOrPath, o)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func noWeightsError(idOrPath string, orig error) error {
	if isDir(idOrPath) {
		return fmt.Errorf("%w (nor a sharded %s)%s", orig, IndexFile, convertHint(idOrPath))
	}
	var me *hub.MissingError
	if errors.As(orig, &me) && me.Dir != "" {
		// A cached snapshot (offline) with weights in another format.
		if f := otherWeightFile(me.Dir); f != "" {
			// Downloading would not help: say what would.
			return &hub.MissingError{Files: me.Files, Kind: me.Kind, Dir: me.Dir, Msg: fmt.Sprintf(
				"hub: model %q: the cached snapshot %s has %s but no model.safetensors (nor a sharded %s), and nnscope reads only safetensors weights: convert them in Python with "+
					"transformers.AutoModelForCausalLM.from_pretrained(%q%s).save_pretrained(DIR, safe_serialization=True) and load the folder DIR",
				idOrPath, me.Dir, f, IndexFile, idOrPath, fromFlag(f))}
		}
	}
	var he *hub.HTTPError
	if errors.As(orig, &he) {
		return fmt.Errorf("%w; nnscope needs safetensors weights (model.safetensors, or %s with its shards): if the model has only pytorch_model.bin, convert it with save_pretrained(..., safe_serialization=True)", orig, IndexFile)
	}
	return orig
}
