package runtime

import "strings"

// Module is one node of a model's module tree, named as in Hugging Face
// (Path "transformer.h.0.attn.c_attn").
type Module struct {
	Name     string // last path element, e.g. "c_attn" or "0"
	Path     string // full dotted path
	Type     string // the Hugging Face class name, e.g. "Conv1D"
	Parent   *Module
	Children []*Module
	Params   []NamedTensor
}

// NamedTensor is a parameter with its name inside its module.
type NamedTensor struct {
	Name   string
	Tensor *Tensor
}

// NewModule creates a child of parent (parent may be nil for a root).
func NewModule(parent *Module, name, typ string) *Module {
	m := &Module{Name: name, Type: typ, Parent: parent}
	if parent != nil {
		m.Path = name
		if parent.Path != "" {
			m.Path = parent.Path + "." + name
		}
		parent.Children = append(parent.Children, m)
	}
	return m
}

// Child returns the direct child with the given name, or nil.
func (m *Module) Child(name string) *Module {
	for _, c := range m.Children {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Find resolves a dotted path below m. Numeric elements index lists and may
// be negative ("h.-1.mlp").
func (m *Module) Find(path string) *Module {
	cur := m
	if path == "" {
		return m
	}
	for _, part := range strings.Split(path, ".") {
		next := cur.Child(part)
		if next == nil && len(part) > 0 && part[0] == '-' {
			n := 0
			for _, r := range part[1:] {
				if r < '0' || r > '9' {
					return nil
				}
				n = n*10 + int(r-'0')
			}
			if n >= 1 && n <= len(cur.Children) {
				next = cur.Children[len(cur.Children)-n]
			}
		}
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}

// Walk visits m and its descendants depth first, in definition order.
func (m *Module) Walk(fn func(*Module)) {
	fn(m)
	for _, c := range m.Children {
		c.Walk(fn)
	}
}

// Hooks is the one hook point every module call goes through. The
// intervention layer implements it; a nil Hooks costs one comparison.
type Hooks interface {
	// Enter sees the inputs before the module runs and may replace them,
	// or return a non-nil skip value to use as the output instead of
	// running the module.
	Enter(m *Module, in []*Tensor) (newIn []*Tensor, skip *Tensor)
	// Exit sees the output and may replace it.
	Exit(m *Module, out *Tensor) *Tensor
}

// Call runs module m on inputs through the hook point h.
func Call(h Hooks, m *Module, fn func(in []*Tensor) *Tensor, in ...*Tensor) *Tensor {
	if h == nil {
		return fn(in)
	}
	newIn, skip := h.Enter(m, in)
	if newIn != nil {
		in = newIn
	}
	var out *Tensor
	if skip != nil {
		out = skip
	} else {
		out = fn(in)
	}
	if r := h.Exit(m, out); r != nil {
		out = r
	}
	return out
}

// Keeper is implemented by Hooks that hand tensors out (an intervention
// layer): Keeps reports whether t (or memory it shares) may still be read
// by someone else, so the model must not release it to the buffer pool.
type Keeper interface {
	Keeps(t *Tensor) bool
}
