package crmhttp_test

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/charmap"
)

// walkFields walks the routes of custom field definitions: define (201,
// then 200 when replaced), list, get, remove; a refused definition lists
// every problem; an actor without the fields permission is refused.
func walkFields(t *testing.T, c *client) {
	t.Helper()
	plan := map[string]any{"entity": "contact", "key": "plan", "label": "Plan", "type": "enum", "options": []string{"free", "pro"}}
	res, b := c.do(http.MethodPost, "/fields", plan, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	require.Equal(t, `"1"`, res.Header.Get("ETag"))
	plan["options"] = []string{"free", "pro", "team"}
	res, b = c.do(http.MethodPost, "/fields", plan, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Contains(t, string(b), `"team"`)
	res, b = c.do(http.MethodPost, "/fields", map[string]any{"entity": "spaceship", "key": "Bad Key", "label": "", "type": "enum"}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	var prob struct {
		Errors []struct {
			Location string `json:"location"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(b, &prob))
	require.Len(t, prob.Errors, 4, string(b))
	res, _ = c.do(http.MethodPost, "/fields", map[string]any{"entity": "contact", "key": "seats", "label": "Seats", "type": "number"}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	res, b = c.do(http.MethodGet, "/fields?entity=contact", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	var defs []struct {
		Key string `json:"key"`
	}
	require.NoError(t, json.Unmarshal(b, &defs))
	require.Len(t, defs, 2)
	res, _ = c.do(http.MethodGet, "/fields/contact/plan", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, `"2"`, res.Header.Get("ETag"))
	res, _ = c.do(http.MethodGet, "/fields/contact/nope", nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = c.do(http.MethodPost, "/fields", plan, map[string]string{"X-User": "rep-1", "X-Roles": "sales"})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/fields/contact/seats", nil, map[string]string{"X-User": "rep-1", "X-Roles": "sales"})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/fields/contact/seats", nil, nil)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/fields/contact/seats", nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
}

// walkAccess walks the routes of roles, users and teams: create, list,
// get, replace with If-Match (missing: 428, stale: 412), deactivate and
// activate, members, delete; a user without the access permission may
// not change them.
func walkAccess(t *testing.T, c *client) {
	t.Helper()
	sales := map[string]string{"X-User": "rep-1", "X-Roles": "sales"}
	perms := map[string]any{"contacts": map[string]any{"actions": []string{"read"}, "visibility": "own", "personal_data": false}}
	res, b := c.do(http.MethodPost, "/roles", map[string]any{"name": "viewer", "description": "Reads own contacts", "permissions": perms}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	res, _ = c.do(http.MethodPost, "/roles", map[string]any{"name": "viewer", "permissions": perms}, nil)
	require.Equal(t, http.StatusConflict, res.StatusCode)
	res, _ = c.do(http.MethodPost, "/roles", map[string]any{"name": "Bad Name", "permissions": map[string]any{"nope": map[string]any{}}}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.do(http.MethodPost, "/roles", map[string]any{"name": "mine", "permissions": perms}, sales)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "a sales rep may not make roles")
	res, b = c.do(http.MethodGet, "/roles", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(b), `"viewer"`)
	res, _ = c.do(http.MethodGet, "/roles/viewer", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	etag := res.Header.Get("ETag")
	res, _ = c.do(http.MethodGet, "/roles/nope", nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = c.do(http.MethodPut, "/roles/viewer", map[string]any{"name": "viewer", "permissions": perms}, nil)
	require.Equal(t, http.StatusPreconditionRequired, res.StatusCode)
	res, b = c.do(http.MethodPut, "/roles/viewer", map[string]any{"name": "reader", "permissions": perms}, map[string]string{"If-Match": etag})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, _ = c.do(http.MethodPut, "/roles/reader", map[string]any{"name": "reader", "permissions": perms}, map[string]string{"If-Match": etag})
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode, "stale")

	user := map[string]any{"id": "user-7", "display_name": "Grace", "email": "grace@acme.example", "time_zone": "Europe/Berlin",
		"working_hours": map[string]any{"mon": []map[string]string{{"start": "09:00", "end": "17:00"}}}, "roles": []string{"reader"}}
	res, b = c.do(http.MethodPost, "/users", user, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	res, _ = c.do(http.MethodPost, "/users", user, nil)
	require.Equal(t, http.StatusConflict, res.StatusCode)
	res, _ = c.do(http.MethodPost, "/users", map[string]any{"id": "", "display_name": "", "time_zone": "Mars/Olympus", "roles": []string{"nope"}}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, b = c.do(http.MethodGet, "/users?limit=10", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(b), "user-7")
	res, _ = c.do(http.MethodGet, "/users/user-7", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	etag = res.Header.Get("ETag")
	res, _ = c.do(http.MethodGet, "/users/user-8", nil, nil)
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	user["display_name"] = "Grace H."
	delete(user, "id")
	res, b = c.do(http.MethodPut, "/users/user-7", user, map[string]string{"If-Match": etag})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Contains(t, string(b), "Grace H.")
	res, _ = c.do(http.MethodPut, "/users/user-7", user, map[string]string{"If-Match": etag})
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	etag = res.Header.Get("ETag")
	res, _ = c.do(http.MethodGet, "/users/user-7", nil, nil)
	etag = res.Header.Get("ETag")

	res, b = c.do(http.MethodPost, "/teams", map[string]any{"name": "Field sales"}, nil)
	require.Equal(t, http.StatusCreated, res.StatusCode, string(b))
	team := idOf(t, b)
	res, _ = c.do(http.MethodPost, "/teams", map[string]any{"name": "Field sales"}, nil)
	require.Equal(t, http.StatusConflict, res.StatusCode)
	res, b = c.do(http.MethodPost, "/teams/"+team+"/members", map[string]any{"user_id": "user-7", "lead": true, "capacity": 5,
		"skills": map[string]any{"languages": []string{"de-CH"}}}, map[string]string{"If-Match": `"1"`})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, _ = c.do(http.MethodPost, "/teams/"+team+"/members", map[string]any{"user_id": "nobody"}, map[string]string{"If-Match": `"2"`})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, b = c.do(http.MethodGet, "/teams", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, string(b), "user-7")
	res, _ = c.do(http.MethodGet, "/teams/"+team, nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, `"2"`, res.Header.Get("ETag"))
	res, b = c.do(http.MethodPut, "/teams/"+team, map[string]any{"name": "Inside sales"}, map[string]string{"If-Match": `"2"`})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, b = c.do(http.MethodDelete, "/teams/"+team+"/members/user-7", nil, map[string]string{"If-Match": `"3"`})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, _ = c.do(http.MethodDelete, "/teams/"+team, nil, map[string]string{"If-Match": `"3"`})
	require.Equal(t, http.StatusPreconditionFailed, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/teams/"+team, nil, sales)
	require.Equal(t, http.StatusPreconditionRequired, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/teams/"+team, nil, map[string]string{"If-Match": `"4"`, "X-User": "rep-1", "X-Roles": "sales"})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
	res, _ = c.do(http.MethodDelete, "/teams/"+team, nil, map[string]string{"If-Match": `"4"`})
	require.Equal(t, http.StatusNoContent, res.StatusCode)

	// The role is held: not deleted until the user loses it.
	res, _ = c.do(http.MethodGet, "/roles/reader", nil, nil)
	roleTag := res.Header.Get("ETag")
	res, b = c.do(http.MethodDelete, "/roles/reader", nil, map[string]string{"If-Match": roleTag})
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, string(b))
	res, b = c.do(http.MethodPost, "/users/user-7/deactivate", nil, map[string]string{"If-Match": etag})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Contains(t, string(b), `"active":false`)
	res, b = c.do(http.MethodPost, "/users/user-7/activate", nil, map[string]string{"If-Match": res.Header.Get("ETag")})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	user["roles"] = []string{}
	res, b = c.do(http.MethodPut, "/users/user-7", user, map[string]string{"If-Match": res.Header.Get("ETag")})
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	res, _ = c.do(http.MethodDelete, "/roles/reader", nil, map[string]string{"If-Match": roleTag})
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/users", nil, sales)
	require.Equal(t, http.StatusForbidden, res.StatusCode, "sales may not read access settings")
}

// walkImports walks the CSV import (text/csv and multipart, a semicolon
// Windows-1252 file, a dry run, a broken row, a body over the limit) and
// the CSV export.
func walkImports(t *testing.T, c *client) {
	t.Helper()
	csv := "email,first_name,attributes.plan\nhedy@example.com,Hedy,pro\nbroken,Bob,free\nlise@example.com,Lise,gold\n"
	res, b := c.send(http.MethodPost, "/imports/contacts?dry_run=true", "text/csv", []byte(csv), nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	var out struct {
		Created int64 `json:"created"`
		Failed  int64 `json:"failed"`
		DryRun  bool  `json:"dry_run"`
		Errors  []struct {
			Line   int    `json:"line"`
			Column string `json:"column"`
		} `json:"errors"`
		CSV struct {
			Comma    string `json:"comma"`
			Encoding string `json:"encoding"`
			Columns  []struct {
				Column, Field string
			} `json:"columns"`
		} `json:"csv"`
	}
	require.NoError(t, json.Unmarshal(b, &out))
	require.True(t, out.DryRun)
	require.Equal(t, int64(1), out.Created)
	require.Equal(t, int64(2), out.Failed)
	require.Equal(t, 3, out.Errors[0].Line)
	require.Equal(t, 4, out.Errors[1].Line)
	require.Equal(t, "attributes.plan", out.CSV.Columns[2].Field)
	res, _ = c.do(http.MethodGet, "/contacts?filter="+url.QueryEscape(`{"field":"email","op":"eq","value":"hedy@example.com"}`), nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, _ = c.send(http.MethodPost, "/imports/contacts?all_or_nothing=true", "text/csv", []byte(csv), nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode, "a row failed: nothing imported")
	res, b = c.send(http.MethodPost, "/imports/contacts", "text/csv", []byte(csv), nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, &out))
	require.Equal(t, int64(1), out.Created)

	// A spreadsheet's file from Windows, as a multipart upload with its
	// mapping.
	win, err := charmap.Windows1252.NewEncoder().String("E-Mail;Vorname\nmaerta@example.com;Märta\n")
	require.NoError(t, err)
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, err := mw.CreateFormFile("file", "kunden.csv")
	require.NoError(t, err)
	_, err = fw.Write([]byte(win))
	require.NoError(t, err)
	require.NoError(t, mw.WriteField("mapping", `{"E-Mail":"email","Vorname":"first_name"}`))
	require.NoError(t, mw.Close())
	res, b = c.send(http.MethodPost, "/imports/contacts", mw.FormDataContentType(), form.Bytes(), nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.NoError(t, json.Unmarshal(b, &out))
	require.Equal(t, int64(1), out.Created)
	require.Equal(t, ";", out.CSV.Comma)
	require.Equal(t, "windows-1252", out.CSV.Encoding)
	m, err := c.tenantCRM().Contacts.GetByEmail(t.Context(), "maerta@example.com")
	require.NoError(t, err)
	require.Equal(t, "Märta", m.FirstName)

	// Refused: a header that maps to nothing, a bad mapping or delimiter,
	// another media type, a multipart without file, too large a body.
	res, b = c.send(http.MethodPost, "/imports/contacts", "text/csv", []byte("email,shoe_size\nx@example.com,42\n"), nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Contains(t, string(b), "shoe_size")
	res, _ = c.send(http.MethodPost, "/imports/contacts?mapping=%5B1%5D", "text/csv", []byte(csv), nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.send(http.MethodPost, "/imports/contacts?delimiter=x", "text/csv", []byte(csv), nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.send(http.MethodPost, "/imports/contacts?encoding=ebcdic", "text/csv", []byte(csv), nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.send(http.MethodPost, "/imports/contacts", "application/pdf", []byte("%PDF"), nil)
	require.Equal(t, http.StatusUnsupportedMediaType, res.StatusCode)
	form.Reset()
	mw = multipart.NewWriter(&form)
	require.NoError(t, mw.WriteField("mapping", "{}"))
	require.NoError(t, mw.Close())
	res, _ = c.send(http.MethodPost, "/imports/contacts", mw.FormDataContentType(), form.Bytes(), nil)
	require.Equal(t, http.StatusBadRequest, res.StatusCode)
	big := "email\n" + strings.Repeat("someone.with.a.long.address@example.com\n", 1<<20/40+1)
	res, _ = c.send(http.MethodPost, "/imports/contacts", "text/csv", []byte(big), nil)
	require.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode, "the test handler takes 1 MiB")
	res, _ = c.send(http.MethodPost, "/imports/contacts", "text/csv", []byte(csv), map[string]string{"X-User": "rep-1", "X-Roles": "sales"})
	require.Equal(t, http.StatusForbidden, res.StatusCode, "a sales rep does not see all contacts")

	// The export: CSV with the custom field's column.
	res, b = c.do(http.MethodGet, "/exports/contacts", nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode, string(b))
	require.Equal(t, "text/csv; charset=utf-8", res.Header.Get("Content-Type"))
	require.True(t, strings.HasPrefix(string(b), "id,email,"), string(b))
	require.Contains(t, strings.SplitN(string(b), "\n", 2)[0], "attributes.plan")
	require.Contains(t, string(b), "hedy@example.com")
	require.Contains(t, string(b), "Märta")
	res, b = c.do(http.MethodGet, "/exports/contacts?filter="+url.QueryEscape(`{"field":"email","op":"eq","value":"hedy@example.com"}`), nil, nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Equal(t, 2, strings.Count(string(b), "\n"), string(b))
	res, _ = c.do(http.MethodGet, "/exports/contacts?filter="+url.QueryEscape(`{"field":"shoe_size","op":"eq","value":1}`), nil, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	res, _ = c.do(http.MethodGet, "/exports/contacts", nil, map[string]string{"X-User": "mk-1", "X-Roles": "marketing"})
	require.Equal(t, http.StatusForbidden, res.StatusCode)
}
