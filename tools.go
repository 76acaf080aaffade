//go:build tools

// Package nnscope pins dependencies that packages under construction will import.
package nnscope

import (
	_ "github.com/chzyer/readline"
	_ "github.com/ebitengine/purego"
	_ "github.com/go-zeromq/zmq4"
	_ "github.com/tiktoken-go/tokenizer"
	_ "github.com/traefik/yaegi/interp"
	_ "go4.org/unsafe/assume-no-moving-gc"
	_ "golang.org/x/sys/cpu"
	_ "gorgonia.org/tensor"
)

