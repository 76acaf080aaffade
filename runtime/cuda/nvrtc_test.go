package cuda

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The GPU machines are lent rarely, so the kernels' compile by NVIDIA's
// own compiler is checked here whenever a real NVRTC is installed: CI
// installs Debian's libnvrtc11.2 (CUDA 11.8, non-free), which compiles for
// every architecture up to sm_90 (H100/H200) without a GPU. g++ on
// fakecuda accepts C++ that NVRTC may not, and says nothing of registers.

// cubinKernel is what a CUBIN records about one kernel.
type cubinKernel struct {
	Regs   int   // registers per thread (EIATTR_REGCOUNT)
	Frame  int   // stack frame bytes per thread: spilled registers (EIATTR_FRAME_SIZE)
	Shared int   // static shared memory bytes (.nv.shared.<name>; from sm_90 on, with 1 KiB the driver reserves)
	Params []int // parameter sizes in bytes, by ordinal (EIATTR_KPARAM_INFO)
}

// EIATTR attribute codes of the .nv.info sections (NVIDIA's CUBIN ELF
// notes, as cuobjdump names them).
const (
	eiattrFrameSize  = 0x11
	eiattrKParamInfo = 0x17
	eiattrRegCount   = 0x2f
	eifmtSVal        = 4 // attribute followed by a uint16 size and that many bytes
	emCUDA           = 190
)

// parseCUBIN reads the per-kernel resources of a CUBIN. Its ELF header
// carries CUDA's ABI version where ELF's version belongs, which Go's
// debug/elf refuses, so a copy with those fields set to 1 is read.
func parseCUBIN(b []byte) (map[string]*cubinKernel, error) {
	if len(b) < 64 || !isELF(b) {
		return nil, errors.New("not an ELF file")
	}
	c := bytes.Clone(b)
	c[elf.EI_VERSION] = 1
	binary.LittleEndian.PutUint32(c[20:], 1) // e_version
	f, err := elf.NewFile(bytes.NewReader(c))
	if err != nil {
		return nil, err
	}
	if f.Machine != emCUDA {
		return nil, fmt.Errorf("ELF machine %v, not EM_CUDA", f.Machine)
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	symName := func(i uint32) string { // ELF symbol index: 0 is the null symbol
		if i == 0 || int(i) > len(syms) {
			return ""
		}
		return syms[i-1].Name
	}
	ks := map[string]*cubinKernel{}
	for _, s := range f.Sections {
		if name, ok := strings.CutPrefix(s.Name, ".text."); ok {
			ks[name] = &cubinKernel{}
		}
	}
	for _, s := range f.Sections {
		switch {
		case strings.HasPrefix(s.Name, ".nv.shared."):
			if k := ks[strings.TrimPrefix(s.Name, ".nv.shared.")]; k != nil {
				k.Shared = int(s.Size)
			}
		case s.Name == ".nv.info" || strings.HasPrefix(s.Name, ".nv.info."):
			d, err := s.Data()
			if err != nil {
				return nil, err
			}
			own := ks[strings.TrimPrefix(s.Name, ".nv.info.")]
			for len(d) >= 4 {
				format, attr, v := d[0], d[1], int(binary.LittleEndian.Uint16(d[2:]))
				d = d[4:]
				if format != eifmtSVal {
					continue
				}
				if v > len(d) {
					return nil, fmt.Errorf("%s: attribute %#x runs past the section", s.Name, attr)
				}
				p := d[:v]
				d = d[v:]
				switch {
				case (attr == eiattrRegCount || attr == eiattrFrameSize) && len(p) == 8:
					k := ks[symName(binary.LittleEndian.Uint32(p))]
					if k == nil {
						continue // a device function, not a kernel
					}
					val := int(binary.LittleEndian.Uint32(p[4:]))
					if attr == eiattrRegCount {
						k.Regs = val
					} else {
						k.Frame = val
					}
				case attr == eiattrKParamInfo && len(p) == 12 && own != nil:
					ord := int(binary.LittleEndian.Uint16(p[4:]))
					size := int(binary.LittleEndian.Uint32(p[8:]) >> 18 & 0x3fff)
					for len(own.Params) <= ord {
						own.Params = append(own.Params, 0)
					}
					own.Params[ord] = size
				}
			}
		}
	}
	return ks, nil
}

// TestParseCUBIN reads a CUBIN that NVRTC 11.8 made for sm_90 from
// testdata/tiny.cu (kept so that the parser is tested without NVRTC).
func TestParseCUBIN(t *testing.T) {
	if os.Getenv("NNSCOPE_REGEN_CUBIN") == "1" {
		n := realNVRTC(t)
		src, err := os.ReadFile("testdata/tiny.cu")
		if err != nil {
			t.Fatal(err)
		}
		opts := targetOptions("sm_90")
		cubin, _, err := n.compileCUBIN(string(src), "tiny.cu", opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/tiny_sm90.cubin", cubin, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile("testdata/tiny_sm90.cubin")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := parseCUBIN(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks) != 2 {
		t.Fatalf("kernels %v, want tiny_scale and tiny_rowsum", ks)
	}
	sc, rs := ks["tiny_scale"], ks["tiny_rowsum"]
	if sc == nil || rs == nil {
		t.Fatalf("kernels %v", ks)
	}
	// tiny_scale(float* y, const float* x, float a, int n); tiny_rowsum(float*, const float*, Dims, int).
	if fmt.Sprint(sc.Params) != "[8 8 4 4]" || fmt.Sprint(rs.Params) != "[8 8 24 4]" {
		t.Errorf("parameter sizes %v and %v, want [8 8 4 4] and [8 8 24 4]", sc.Params, rs.Params)
	}
	// sm_90's section also holds the 1 KiB the driver reserves per block.
	if sc.Shared != 0 || rs.Shared != 32*4+1024 {
		t.Errorf("shared memory %d and %d, want 0 and 128+1024", sc.Shared, rs.Shared)
	}
	if sc.Regs < 4 || sc.Regs > 64 || rs.Regs < 4 || rs.Regs > 64 {
		t.Errorf("registers %d and %d, out of any plausible range", sc.Regs, rs.Regs)
	}
	if _, err := parseCUBIN(b[:40]); err == nil {
		t.Error("a truncated CUBIN parsed")
	}
	notCUDA := bytes.Clone(b)
	binary.LittleEndian.PutUint16(notCUDA[18:], uint16(elf.EM_X86_64))
	if _, err := parseCUBIN(notCUDA); err == nil {
		t.Error("an x86-64 ELF passed as a CUBIN")
	}
}

// realNVRTC loads an NVIDIA NVRTC from the usual places, ignoring
// NNSCOPE_CUDA_LIB (where fakecuda's stand-in lives in tests); besides the
// versions the backend uses it accepts CUDA 11.8's, which Debian packages.
func realNVRTC(t *testing.T) *nvrtcAPI {
	t.Helper()
	old := nvrtcNames
	nvrtcNames = append(append([]string{}, old...), "libnvrtc.so.11.2")
	defer func() { nvrtcNames = old }()
	getenv := func(k string) string {
		if k == "NNSCOPE_CUDA_LIB" {
			return ""
		}
		return os.Getenv(k)
	}
	n, err := loadNVRTC(searchDirs(getenv, filepath.Glob), 0)
	if err != nil {
		t.Skipf("no NVRTC here, so NVIDIA's compile of the kernels is unchecked (CI installs Debian's libnvrtc11.2): %v", err)
	}
	return n
}

// TestKernelsCompileWithNVRTC compiles the kernels exactly as a GPU
// machine does, for every architecture from Volta on that this NVRTC
// knows, and checks what the launches rely on: no warnings, every kernel
// present, registers few enough for 1024-thread blocks (the most any
// launch uses: rowBlock and ce_mean), static shared memory under 48 KiB,
// and no spills to local memory.
func TestKernelsCompileWithNVRTC(t *testing.T) {
	n := realNVRTC(t)
	src, err := kernelSource()
	if err != nil {
		t.Fatal(err)
	}
	defs := kernelsDefined(t)
	compiled := 0
	for _, cc := range [][2]int{{7, 0}, {7, 5}, {8, 0}, {8, 6}, {8, 9}, {9, 0}, {10, 0}, {12, 0}} {
		arch := fmt.Sprintf("sm_%d", archCode(cc[0], cc[1]))
		opts := targetOptions(arch)
		cubin, log, err := n.compileCUBIN(src, "nnscope_kernels.cu", opts)
		var ce *Error
		if errors.As(err, &ce) && ce.Code == 5 { // NVRTC_ERROR_INVALID_OPTION: the options are the same for every arch
			t.Logf("%s: NVRTC %s does not know this architecture: %s", arch, n.versionString(), strings.TrimSpace(log))
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", arch, err)
			continue
		}
		if strings.TrimSpace(log) != "" {
			t.Errorf("%s: NVRTC warns:\n%s", arch, log)
		}
		ks, err := parseCUBIN(cubin)
		if err != nil {
			t.Errorf("%s: reading the CUBIN: %v", arch, err)
			continue
		}
		compiled++
		names := make([]string, 0, len(ks))
		for name := range ks {
			names = append(names, name)
		}
		sort.Strings(names)
		maxRegs := ""
		for _, name := range names {
			k := ks[name]
			if _, ok := defs[name]; !ok {
				t.Errorf("%s: the CUBIN has kernel %s that no .cu file defines as extern \"C\"", arch, name)
			}
			if k.Regs*1024 > 64*1024 {
				t.Errorf("%s: %s uses %d registers per thread: a 1024-thread block needs at most 64", arch, name, k.Regs)
			}
			if k.Shared > 48<<10 {
				t.Errorf("%s: %s uses %d bytes of static shared memory, over 48 KiB", arch, name, k.Shared)
			}
			if k.Frame > 0 {
				t.Errorf("%s: %s spills %d bytes per thread to local memory", arch, name, k.Frame)
			}
			if k.Regs == 0 {
				t.Errorf("%s: no register count recorded for %s", arch, name)
			}
			if maxRegs == "" || k.Regs > ks[maxRegs].Regs {
				maxRegs = name
			}
		}
		for name := range defs {
			if ks[name] == nil {
				t.Errorf("%s: kernel %s is missing from the CUBIN", arch, name)
			}
		}
		t.Logf("%s: %d kernels, %d bytes; most registers: %s (%d)", arch, len(ks), len(cubin), maxRegs, ks[maxRegs].Regs)
	}
	if compiled == 0 {
		t.Errorf("NVRTC %s compiled for none of the architectures tried", n.versionString())
	}
}

// TestNVRTCReportsErrors checks that a kernel NVRTC rejects comes back as
// an error carrying NVRTC's log, which is what a user would see.
func TestNVRTCReportsErrors(t *testing.T) {
	n := realNVRTC(t)
	opts := targetOptions("sm_80")
	_, log, err := n.compileCUBIN(`extern "C" __global__ void k(float* x) { x[0] = undefined_name; }`, "bad.cu", opts)
	if err == nil {
		t.Fatal("an undefined name compiled")
	}
	if !strings.Contains(log, "undefined_name") || !strings.Contains(err.Error(), "undefined_name") {
		t.Errorf("the error does not carry NVRTC's log: %v (log %q)", err, log)
	}
}
