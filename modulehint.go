package nnscope

import (
	"fmt"
	"slices"
	"strings"

	rt "nnscope/runtime"
)

// Hints for module paths that name no module: "did you mean", block
// indices out of range, and names nnsight users or other libraries use.

// moduleHint explains why path (dotted, relative to base) names no module
// below base, for the end of a "no module" error: ": did you mean ...?"
// with the closest paths, an out-of-range block index, or "" when nothing
// plausible comes to mind. cache words the hints for Cache.Get.
func moduleHint(base *rt.Module, path string, cache bool) string {
	if base == nil || path == "" {
		return ""
	}
	parts := strings.Split(path, ".")
	cur := base
	for i, part := range parts {
		next := childAt(cur, part)
		if next != nil {
			cur = next
			continue
		}
		last := i == len(parts)-1
		if isIndex(part) && isModuleList(cur) {
			n := len(cur.Children)
			noun := "entries"
			if cur.Children[0].Type == "GPT2Block" {
				noun = "blocks"
			}
			return fmt.Sprintf(": %s has %d %s, indices 0..%d (or -%d..-1 from the end)", cur.Path, n, noun, n-1, n)
		}
		if last {
			if h := notAModuleHint(cur, part, cache); h != "" {
				return h
			}
		}
		break
	}
	if n := len(parts) - 1; n > 0 && isOutputWord(parts[n]) {
		// "transformer.h.0.mlp.fc.output": nnsight's .output on a
		// misspelt module.
		found := closestModules(base, parts[:n])
		if len(found) == 0 {
			return ""
		}
		if cache {
			if parts[n] == "output" || parts[n] == "outputs" {
				return didYouMean(found) + " (the cache holds each module's output)"
			}
			return ""
		}
		method := accessor(parts[n])
		for i, f := range found {
			if base.Path != "" {
				f = base.Path + "." + f
			}
			found[i] = fmt.Sprintf("model.Module(%q).%s()", f, method)
		}
		return fmt.Sprintf(": %q is not a module; did you mean %s?", parts[n], orList(found))
	}
	return didYouMean(closestModules(base, parts))
}

func isOutputWord(s string) bool {
	return s == "output" || s == "outputs" || s == "input" || s == "inputs"
}

// accessor is the Envoy method for an isOutputWord: Output or Input.
func accessor(word string) string {
	if strings.HasPrefix(word, "input") {
		return "Input"
	}
	return "Output"
}

// notAModuleHint answers a last path element that names something a
// module has but is not a module: nnsight's .output and .input, or a
// parameter.
func notAModuleHint(mod *rt.Module, part string, cache bool) string {
	name := mod.Path
	if name == "" {
		name = "the model"
	}
	if isOutputWord(part) {
		method := accessor(part)
		if cache {
			if method == "Input" {
				return ": the cache holds module outputs only (read an input with .Input() inside the trace)"
			}
			return fmt.Sprintf(": did you mean %q? (the cache holds each module's output)", mod.Path)
		}
		call := "model." + method + "()"
		if mod.Path != "" {
			call = fmt.Sprintf("model.Module(%q).%s()", mod.Path, method)
		}
		return fmt.Sprintf(": %q is not a module; %s's %s is %s", part, name, part, call)
	}
	for _, p := range mod.Params {
		if p.Name == part {
			full := part
			if mod.Path != "" {
				full = mod.Path + "." + part
			}
			return fmt.Sprintf(": %q is a parameter of %s, not a module (model.Param(%q))", part, name, full)
		}
	}
	return ""
}

// childAt resolves one path element below mod as Find does (negative
// indices count from the end).
func childAt(mod *rt.Module, part string) *rt.Module {
	if part == "" {
		return nil
	}
	return mod.Find(part)
}

// isIndex reports whether a path element is a block index ("3", "-1").
func isIndex(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" {
		return false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// isModuleList reports whether mod's children are numbered (transformer.h).
func isModuleList(mod *rt.Module) bool {
	if len(mod.Children) == 0 {
		return false
	}
	for _, c := range mod.Children {
		if !isIndex(c.Name) {
			return false
		}
	}
	return true
}

// moduleAliases maps names other libraries (Llama, GPT-NeoX, PyTorch
// examples, TransformerLens) give GPT-2's parts to Hugging Face GPT-2's.
var moduleAliases = map[string]string{
	"model": "transformer", "gpt_neox": "transformer", "decoder": "transformer", "base_model": "transformer",
	"layers": "h", "layer": "h", "blocks": "h", "block": "h",
	"self_attn": "attn", "attention": "attn", "self_attention": "attn",
	"ffn": "mlp", "feed_forward": "mlp", "ff": "mlp",
	"embed_tokens": "wte", "word_embeddings": "wte", "tok_embeddings": "wte", "embed_in": "wte", "embed": "wte",
	"embed_positions": "wpe", "position_embeddings": "wpe", "pos_embed": "wpe",
	"norm": "ln_f", "final_layernorm": "ln_f", "final_layer_norm": "ln_f", "ln_final": "ln_f",
	"input_layernorm": "ln_1", "post_attention_layernorm": "ln_2",
	"unembed": "lm_head", "embed_out": "lm_head",
	"qkv": "c_attn", "query_key_value": "c_attn",
	"o_proj": "c_proj", "out_proj": "c_proj", "dense": "c_proj", "down_proj": "c_proj", "fc2": "c_proj", "fc_out": "c_proj", "dense_4h_to_h": "c_proj",
	"up_proj": "c_fc", "fc1": "c_fc", "fc_in": "c_fc", "dense_h_to_4h": "c_fc",
	"act_fn": "act", "activation": "act", "gelu": "act",
}

// Costs of turning a path the user wrote into a module's path, in tenths:
// a name changed to a similar one costs less than one step, a name
// inserted, dropped or replaced by an unrelated one costs a step.
const (
	costStep  = 10
	costLimit = 15 // at most a step and a half from the path written
	costNever = 1 << 20
)

// nameCost is how far the written element u is from module c (a child of
// its parent): 0 when it names c, costNever for a block index naming
// another block, under costStep when the names are alike.
func nameCost(u string, c *rt.Module) int {
	uIdx, cIdx := isIndex(u), isIndex(c.Name)
	if uIdx || cIdx {
		if uIdx && cIdx && c.Parent != nil && childAt(c.Parent, u) == c {
			return 0
		}
		return costNever
	}
	name, lu := c.Name, strings.ToLower(u)
	switch {
	case u == name:
		return 0
	case lu == name:
		return 1
	case strings.ReplaceAll(lu, "_", "") == strings.ReplaceAll(name, "_", ""):
		return 2
	case moduleAliases[lu] == name:
		return 3
	}
	d := editDistance(lu, name)
	short, long := min(len(lu), len(name)), max(len(lu), len(name))
	switch {
	case d == 1 && long >= 3:
		return 4
	case short >= 2 && (strings.HasPrefix(name, lu) || strings.HasSuffix(name, lu) || strings.HasPrefix(lu, name) || strings.HasSuffix(lu, name)):
		return 5
	case d == 2 && short >= 5:
		return 6
	}
	return costStep
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours ("mpl" is one from
// "mlp").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			sub := 1
			if ra[i-1] == rb[j-1] {
				sub = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+sub)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// pathCost aligns the written elements with a module's chain below base
// (element by element, as an edit distance over path elements): names may
// be changed, inserted (not block indices: which block is not a guess) or
// dropped. The last element must name the module itself or a similar one:
// "transformer.foo" suggests nothing rather than every child.
func pathCost(parts []string, chain []*rt.Module) int {
	n, m := len(parts)-1, len(chain)-1
	last := nameCost(parts[n], chain[m])
	if last >= costStep {
		return costNever
	}
	insert := func(c *rt.Module) int {
		if isIndex(c.Name) {
			return costNever
		}
		return costStep
	}
	drop := func(u string) int {
		if isIndex(u) {
			return costNever // keeps the written indices in step with the chain's
		}
		return costStep
	}
	d := make([][]int, n+1)
	for i := range d {
		d[i] = make([]int, m+1)
	}
	for i := 1; i <= n; i++ {
		d[i][0] = min(costNever, d[i-1][0]+drop(parts[i-1]))
	}
	for j := 1; j <= m; j++ {
		d[0][j] = min(costNever, d[0][j-1]+insert(chain[j-1]))
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			d[i][j] = min(costNever,
				d[i-1][j]+drop(parts[i-1]),
				d[i][j-1]+insert(chain[j-1]),
				d[i-1][j-1]+nameCost(parts[i-1], chain[j-1]))
		}
	}
	return min(costNever, d[n][m]+last)
}

// closestModules returns the paths below base (relative to it) closest to
// the written parts, at most three of equal cost; block indices are
// written as the user wrote them ("-1" stays "-1").
func closestModules(base *rt.Module, parts []string) []string {
	best := costLimit + 1
	var found []string
	base.Walk(func(mod *rt.Module) {
		if mod == base {
			return
		}
		var chain []*rt.Module
		for c := mod; c != base && c != nil; c = c.Parent {
			chain = append(chain, c)
		}
		slices.Reverse(chain)
		cost := pathCost(parts, chain)
		if cost > best {
			return
		}
		if cost < best {
			best, found = cost, nil
		}
		// Block indices pair up in order with the written ones: they can
		// be neither inserted nor dropped.
		var written []string
		for _, p := range parts {
			if isIndex(p) {
				written = append(written, p)
			}
		}
		names := make([]string, len(chain))
		for i, c := range chain {
			names[i] = c.Name
			if isIndex(c.Name) && len(written) > 0 {
				names[i], written = written[0], written[1:]
			}
		}
		found = append(found, strings.Join(names, "."))
	})
	if len(found) > 3 {
		return nil // too many alike to pick from
	}
	return found
}

// didYouMean words suggestions: ": did you mean "a" or "b"?".
func didYouMean(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = fmt.Sprintf("%q", p)
	}
	return ": did you mean " + orList(q) + "?"
}

// orList joins "a", "b" and "c" as "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
