package vtl

import (
	"strings"
	"testing"
)

// BenchmarkPhotosTemplate evaluates the documented photos output template
// over a 100-photo body (parse once, evaluate per request, as the gateway
// would with a cached parse); BenchmarkParse is its parse alone.
func BenchmarkPhotosTemplate(b *testing.B) {
	tpl := `#set($inputRoot = $input.path('$'))
{"photos": [
#foreach($elem in $inputRoot.photos.photo)
  {"id": "$elem.id", "photographedBy": "$elem.owner", "title": "$util.escapeJavaScript($elem.title)", "ispublic": $elem.ispublic}#if($foreach.hasNext),#end
#end
]}`
	var items []string
	for range 100 {
		items = append(items, `{"id":"12345678901","owner":"23456789@A12","title":"Sample photo","ispublic":true}`)
	}
	body := []byte(`{"photos":{"photo":[` + strings.Join(items, ",") + `]}}`)
	t, err := Parse(tpl)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := t.Execute(Variables(NewInput(body, nil, nil, nil), nil, nil)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	tpl := `#set($inputRoot = $input.path('$')){"a": "$inputRoot.a", "b": [#foreach($x in $inputRoot.b)$x#if($foreach.hasNext),#end#end]}`
	for b.Loop() {
		if _, err := Parse(tpl); err != nil {
			b.Fatal(err)
		}
	}
}
