package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/shared/password/argon2id"
)

// phc is a parsed Argon2id PHC string:
//
//	$argon2id$v=19$m=19456,t=2,p=1[,keyid=B64]$<salt B64>$<hash B64>
//
// with B64 the unpadded standard base64 alphabet, as the PHC string format
// specifies. keyid names the pepper, when one was used.
type phc struct {
	params Params
	keyID  string
	salt   []byte
	key    []byte
}

var b64 = base64.RawStdEncoding

func encode(p phc) string {
	params := fmt.Sprintf("m=%d,t=%d,p=%d", p.params.Memory, p.params.Time, p.params.Threads)
	if p.keyID != "" {
		params += ",keyid=" + p.keyID
	}
	return fmt.Sprintf("$argon2id$v=%d$%s$%s$%s", argon2id.Version, params, b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

// Bounds on what decode accepts, so a corrupted or hostile row cannot make
// one verification allocate without limit.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
	maxEncoded = 256
)

// decode parses s, returning [ErrMalformedHash] for anything but a
// well-formed Argon2id v=19 PHC string within the bounds above.
func decode(s string) (phc, error) {
	var p phc
	fail := func(what string) (phc, error) { return phc{}, fmt.Errorf("%w: %s", ErrMalformedHash, what) }
	if len(s) > maxEncoded {
		return fail("too long")
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return fail("not an argon2id PHC string")
	}
	if parts[2] != "v="+strconv.Itoa(argon2id.Version) {
		return fail("unsupported version")
	}
	if err := decodeParams(parts[3], &p); err != nil {
		return fail(err.Error())
	}
	var err error
	if p.salt, err = b64.Strict().DecodeString(parts[4]); err != nil || len(p.salt) < minSaltLen || len(p.salt) > maxSaltLen {
		return fail("bad salt")
	}
	if p.key, err = b64.Strict().DecodeString(parts[5]); err != nil || len(p.key) < minKeyLen || len(p.key) > maxKeyLen {
		return fail("bad hash")
	}
	return p, nil
}

// decodeParams parses "m=..,t=..,p=..[,keyid=..]" in that order.
func decodeParams(s string, p *phc) error {
	fields := strings.Split(s, ",")
	if len(fields) != 3 && len(fields) != 4 {
		return fmt.Errorf("want 3 or 4 parameters, got %d", len(fields))
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(fields[i], name+"=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || v != strconv.FormatUint(n, 10) {
			return fmt.Errorf("bad parameter %s", name)
		}
		vals[i] = n
	}
	if vals[0] < 8 || vals[0] > maxMemory || vals[1] < 1 || vals[1] > maxTime || vals[2] < 1 || vals[2] > 255 ||
		vals[0] < 8*vals[2] {
		return fmt.Errorf("parameters out of range")
	}
	p.params = Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}
	if len(fields) == 4 {
		id, ok := strings.CutPrefix(fields[3], "keyid=")
		if raw, err := b64.Strict().DecodeString(id); !ok || err != nil || len(raw) == 0 || len(raw) > 8 {
			return fmt.Errorf("bad keyid")
		}
		p.keyID = id
	}
	return nil
}
