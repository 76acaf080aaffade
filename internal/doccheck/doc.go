// Package doccheck holds the tests that keep the examples users copy from
// the documentation working. It has no code of its own; `go test
// ./internal/doccheck` checks, on testdata/gpt2-tiny:
//
//   - README.md and notebooks/README.md, by the info string of each fenced
//     block: ```go blocks run (a block with `package main` as a script,
//     like `nnscope run`; any other as session input, like a notebook cell,
//     all of one file's snippets in one session); an ```output block that
//     follows one is what it must print (numbers to 1e-3). ```repl blocks
//     are REPL transcripts: the lines after the `nnscope> ` and `...      `
//     prompts are typed into a REPL, the other lines (but `$ ...`) are what
//     it must print. ```go-api blocks are listings: every chain on a known
//     receiver (model, tr, m, block, t, gen, cache, bar, fig, ...) and every
//     nnscope.Name must exist with that many arguments, and every function
//     and method scripts can use must be listed (or be in notListed). Other
//     blocks (```sh, ```text) are not run, but their `nnscope ...` command
//     lines, like those of inline code, must use commands and flags that
//     `nnscope CMD -h` lists (skipped with -short, as it builds nnscope).
//     Inline code chains are checked like listings.
//   - The root package's doc comments: every code block in them runs as
//     session input.
//
// A model id "openai-community/gpt2" in an example is replaced by the tiny
// model, so examples can show the real model.
package doccheck
