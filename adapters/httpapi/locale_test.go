package httpapi

import "testing"

func TestViewerLocaleIsTheClosestWrittenOneElseEnglish(t *testing.T) {
	for asked, want := range map[string]string{
		"": "en", "en": "en", "en-GB": "en", "zh-CN": "zh-CN", "zh-cn": "zh-CN", "zh": "zh-CN", "zh-Hans": "zh-CN",
		"ja": "ja", "ja-JP": "ja", "fr": "en", "de-DE": "en", "!!": "en", "x-" + string(make([]byte, 100)): "en",
	} {
		if got := viewerLocale(asked); got != want {
			t.Errorf("locale %q shows %q, want %q", asked, got, want)
		}
	}
}
