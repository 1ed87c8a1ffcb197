package ui

import (
	"net/http"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// maxOTPAuthURI bounds the URI POST /ui/qr encodes.
const maxOTPAuthURI = 512

// qr answers POST /ui/qr {"uri": "otpauth://totp/..."} for a signed-in
// user with a PNG QR code of the URI, so the account page can show the
// TOTP secret it was just given as a scannable image without a script
// library or an image URL holding the secret. Nothing is stored; the
// response is not cacheable.
func (h *Handler) qr(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		URI string `json:"uri"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	v := web.NewValidator()
	v.Length("uri", req.URI, 1, maxOTPAuthURI)
	v.Require(strings.HasPrefix(req.URI, "otpauth://totp/"), "uri", "must be an otpauth://totp/ URI")
	if err := v.Err(); err != nil {
		return err
	}
	png, err := qrcode.Encode(req.URI, qrcode.Medium, 256)
	if err != nil {
		return web.BadRequest("invalid_request", "The URI cannot be encoded.").WithCause(err)
	}
	web.NoStore(w)
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(png)))
	_, err = w.Write(png)
	return err
}
