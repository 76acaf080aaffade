// Package notebooks holds nnscope's example notebooks (seed.ipynb,
// attribution_patching.ipynb). It has no code: its test runs every cell of
// them, and the kernel cases of testdata/kernel_cases.json, against the real
// nnscope kernel with Debian's Jupyter client (jupyter_client, nbclient) and
// checks the outputs against PyTorch's numbers.
package notebooks
