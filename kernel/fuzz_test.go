package kernel

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds the kernel's wire decoder what arrives from the
// network: frames cut from the input at "\x00|", signed correctly when the
// input starts with 's' (so the parsing past the signature check is
// reached) and as they are otherwise. Decode must not panic, must refuse
// what it cannot verify, and what it accepts must survive Encode and
// Decode unchanged (empty parts are sent as "{}").
func FuzzDecode(f *testing.F) {
	f.Add([]byte("sid\x00|<IDS|MSG>\x00|\x00|{\"msg_id\":\"1\",\"msg_type\":\"execute_request\",\"session\":\"s\",\"username\":\"u\",\"date\":\"\",\"version\":\"5.3\"}\x00|{}\x00|{}\x00|{\"code\":\"1+1\"}"))
	f.Add([]byte("s<IDS|MSG>\x00|\x00|{\"msg_type\":\"\"}\x00|{}\x00|{}\x00|{}"))
	f.Add([]byte("<IDS|MSG>\x00|bad\x00|{}\x00|{}\x00|{}\x00|{}"))
	f.Add([]byte("s<IDS|MSG>\x00|\x00|{\"msg_type\":\"kernel_info_request\"}\x00|null\x00|[]\x00|\"x\"\x00|buf"))
	f.Add([]byte("no delimiter"))
	signer, err := NewSigner("hmac-sha256", "fuzz-key")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		sign := len(in) > 0 && in[0] == 's'
		if sign {
			in = in[1:]
		}
		frames := bytes.Split(in, []byte("\x00|"))
		if sign {
			for i, fr := range frames {
				if bytes.Equal(fr, delimiter) && len(frames) >= i+6 {
					p := frames[i+2 : i+6]
					frames[i+1] = []byte(signer.Sign(p[0], p[1], p[2], p[3]))
					break
				}
			}
		}
		m, err := Decode(frames, signer)
		if err != nil {
			return
		}
		again, err := Decode(Encode(m, signer), signer)
		if err != nil {
			t.Fatalf("a decoded message does not decode after Encode: %v", err)
		}
		if again.Header != m.Header || !bytes.Equal(again.Content, orEmptyObject(m.Content)) || len(again.Buffers) != len(m.Buffers) {
			t.Fatalf("round trip changed the message: %+v -> %+v", m, again)
		}
	})
}

func orEmptyObject(b []byte) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}
