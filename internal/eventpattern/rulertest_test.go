package eventpattern

import "testing"

// Cases from event-ruler's RulerTest (Ruler.matchesRule, which is
// array-consistent), restated as data.

const rfcEvent = `{"Image":{"Width":800,"Height":600,"Title":"View from 15th Floor",
 "Thumbnail":{"Url":"http://www.example.com/image/481989943","Height":125,"Width":100},
 "Animated":false,"IDs":[116,943,234,38793]}}`

const complexArraysEvent = `{"employees":[
 [{"firstName":"John","lastName":"Doe","ids":[1234,1000,9999]},{"firstName":"Anna","lastName":"Smith"}],
 [{"firstName":"Peter","lastName":"Jones","ids":[]}]]}`

var rulerTestCases = []matchCase{
	// WHEN_WeWriteRulesToMatchVariousFieldCombos_THEN_TheyWork
	{"rfc width and thumbnail height", `{"Image":{"Width":[800],"Thumbnail":{"Height":[125,300]}}}`, rfcEvent, true},
	{"rfc url prefix", `{"Image":{"Thumbnail":{"Url":[{"prefix":"http"}]}}}`, rfcEvent, true},
	{"rfc title prefix ignore case", `{"Image":{"Title":[{"prefix":{"equals-ignore-case":"VIeW"}}]}}`, rfcEvent, true},
	{"rfc title suffix ignore case", `{"Image":{"Title":[{"suffix":{"equals-ignore-case":"LoOr"}}]}}`, rfcEvent, true},
	{"rfc title suffix", `{"Image":{"Title":[{"suffix":"loor"}]}}`, rfcEvent, true},
	{"rfc everything", `{"Image":{"Width":[{"numeric":["<",1000]}],"Height":[{"numeric":["<=",600]}],"Title":[{"anything-but":"View from 15th Flood"}],
		"Thumbnail":{"Url":[{"prefix":"http"}],"Height":[{"numeric":[">",124,"<",126]}],"Width":[{"numeric":[">=",99.999,"<=",100]}]},"Animated":[false]}}`, rfcEvent, true},
	{"rfc width below", `{"Image":{"Width":[{"numeric":["<",800]}]}}`, rfcEvent, false},
	{"rfc height below", `{"Image":{"Height":[{"numeric":["<",599]}]}}`, rfcEvent, false},
	{"rfc anything-but title", `{"Image":{"Title":[{"anything-but":"View from 15th Floor"}]}}`, rfcEvent, false},
	{"rfc https", `{"Image":{"Thumbnail":{"Url":[{"prefix":"https"}]}}}`, rfcEvent, false},
	{"rfc open range", `{"Image":{"Thumbnail":{"Height":[{"numeric":[">",124,"<",125]}]}}}`, rfcEvent, false},
	{"rfc width above", `{"Image":{"Thumbnail":{"Width":[{"numeric":[">=",100.00001,"<=",1001]}]}}}`, rfcEvent, false},
	{"rfc animated", `{"Image":{"Animated":[true]}}`, rfcEvent, false},
	{"rfc ids array", `{"Image":{"IDs":[943]}}`, rfcEvent, true},
	// WHEN_JSONContainsArrays_THEN_RulerNoCompileMatchesWork
	{"arrays anna", `{"employees":{"firstName":["Anna"]}}`, complexArraysEvent, true},
	{"arrays john 1000", `{"employees":{"firstName":["John"],"ids":[1000]}}`, complexArraysEvent, true},
	{"arrays anna no ids", `{"employees":{"firstName":["Anna"],"ids":[{"exists":false}]}}`, complexArraysEvent, true},
	{"arrays alice", `{"employees":{"firstName":["Alice"]}}`, complexArraysEvent, false},
	{"arrays anna jones", `{"employees":{"firstName":["Anna"],"lastName":["Jones"]}}`, complexArraysEvent, false},
	{"arrays alice bob", `{"employees":{"firstName":["Alice"],"lastName":["Bob"]}}`, complexArraysEvent, false},
	{"arrays a", `{"a":["b"]}`, complexArraysEvent, false},
	{"arrays employees leaf", `{"employees":["b"]}`, complexArraysEvent, false},
	{"arrays anna 1000", `{"employees":{"firstName":["Anna"],"ids":[1000]}}`, complexArraysEvent, false},
	{"arrays anna ids exist", `{"employees":{"firstName":["Anna"],"ids":[{"exists":true}]}}`, complexArraysEvent, false},
	// WHEN_WeWriteRulesWithExists_THEN_TheyWork (rules 1-4 by events 1-3)
	{"exists 1/1", `{"a":[{"exists":true}]}`, `{"a":1}`, true},
	{"exists 2/1", `{"b":[{"exists":false}]}`, `{"a":1}`, true},
	{"exists 3/1", `{"x":[{"exists":true}]}`, `{"a":1}`, false},
	{"exists 4/1", `{"x":[{"exists":false}]}`, `{"a":1}`, true},
	{"exists 1/2", `{"a":[{"exists":true}]}`, `{"b":2}`, false},
	{"exists 2/2", `{"b":[{"exists":false}]}`, `{"b":2}`, false},
	{"exists 3/2", `{"x":[{"exists":true}]}`, `{"b":2}`, false},
	{"exists 4/2", `{"x":[{"exists":false}]}`, `{"b":2}`, true},
	{"exists 1/3", `{"a":[{"exists":true}]}`, `{"x":"X"}`, false},
	{"exists 2/3", `{"b":[{"exists":false}]}`, `{"x":"X"}`, true},
	{"exists 3/3", `{"x":[{"exists":true}]}`, `{"x":"X"}`, true},
	{"exists 4/3", `{"x":[{"exists":false}]}`, `{"x":"X"}`, false},
	// literal types
	{"int 1/1", `{"a":[1]}`, `{"a":1}`, true},
	{"int 2/2", `{"b":[2]}`, `{"b":2}`, true},
	{"string 3/3", `{"x":["X"]}`, `{"x":"X"}`, true},
	{"boolean is not string", `{"x":["X"]}`, `{"x":true}`, false},
	// dotted keys are not paths (event-ruler's Ruler.matchesRule)
	{"dotted key is one key", `{"detail":{"c.count":[5]}}`, `{"detail":{"c.count":5}}`, true},
	{"flat dotted key is not nested", `{"detail":{"c":{"count":[5]}}}`, `{"detail.c.count":5}`, false},
	// ACMachineTest (rulesForJSONEvent)
	{"ac duplicated values ab", `{"foo":{"bar":["ab"]}}`, `{"foo":{"bar":["ab","cd"]}}`, true},
	{"ac duplicated values cd", `{"foo":{"bar":["cd"]}}`, `{"foo":{"bar":["ab","cd"]}}`, true},
	{"ac duplicate pattern key last wins y", `{"x":["y"],"x":["z"]}`, `{"x":"y"}`, false},
	{"ac duplicate pattern key last wins z", `{"x":["y"],"x":["z"]}`, `{"x":"z"}`, true},
	{"ac numeric operators", `{"a":[{"numeric":["=",0]}],"b":[{"numeric":["<",0]}],"c":[{"numeric":["<=",0]}],"x":[{"numeric":[">",0]}],"y":[{"numeric":[">=",0]}],"z":[{"numeric":[">",0,"<",1]}]}`,
		`{"a":[0],"b":[-0.1],"c":[0],"x":[1],"y":[0],"z":[0.1]}`, true},
	{"ac anything-but ignore case 1", `{"a":[{"anything-but":{"equals-ignore-case":["yes","please"]}}],"b":[{"anything-but":{"equals-ignore-case":"no"}}]}`, `{"a":"value","b":"nothing"}`, true},
	{"ac anything-but ignore case 2", `{"a":[{"anything-but":{"equals-ignore-case":["yes","please"]}}],"b":[{"anything-but":{"equals-ignore-case":"no"}}]}`, `{"a":"yEs","b":"nothing"}`, false},
	{"ac anything-but ignore case 5", `{"a":[{"anything-but":{"equals-ignore-case":["yes","please"]}}],"b":[{"anything-but":{"equals-ignore-case":"no"}}]}`, `{"a":"PLEASE","b":"nothing"}`, false},
	{"ac anything-but ignore case 9", `{"a":[{"anything-but":{"equals-ignore-case":["yes","please"]}}],"b":[{"anything-but":{"equals-ignore-case":"no"}}]}`, `{"a":"please","b":"No!"}`, false},
	{"ac anything-but wildcard foo", `{"a":[{"anything-but":{"wildcard":"*foo*"}}]}`, `{"a":"foo"}`, false},
	{"ac anything-but wildcard barfoobar", `{"a":[{"anything-but":{"wildcard":"*foo*"}}]}`, `{"a":"barfoobar"}`, false},
	{"ac anything-but wildcard barfobarobar", `{"a":[{"anything-but":{"wildcard":"*foo*"}}]}`, `{"a":"barfobarobar"}`, true},
	{"ac anything-but vs exact ip", `{"ip":[{"anything-but":"10.0.1.200"}]}`, `{"ip":"10.0.1.200"}`, false},
	{"ac anything-but prefix vs ip", `{"ip":[{"anything-but":{"prefix":"10.0."}}]}`, `{"ip":"10.0.1.200"}`, false},
	{"ac anything-but suffix vs ip", `{"ip":[{"anything-but":{"suffix":"1.200"}}]}`, `{"ip":"10.0.1.200"}`, false},
	{"ac numeric vs ip string", `{"ip":[{"numeric":[">",0,"<=",5]}]}`, `{"ip":"10.0.1.200"}`, false},
	{"ac exists false matches absent", `{"abc":[{"exists":false}]}`, `{"xyz":"abc"}`, true},
	{"ac exists true on value", `{"abc":[{"exists":true}]}`, `{"abc":"xyz"}`, true},
	{"ac exists false in array element 1", acExistsFalseRule("interfaceName"), acExistsFalseEvent1, true},
	{"ac exists false in array element 2", acExistsFalseRule("abc"), acExistsFalseEvent1, true},
	{"ac exists false in array element 3", acExistsFalseRule("interfaceName"), acExistsFalseEvent2, false},
	{"ac exists false in array element 4", acExistsFalseRule("abc"), acExistsFalseEvent2, true},
}

// testACWithExistFalseRule: exists:false inside arrays of objects holds for
// the element that lacks the field.
func acExistsFalseRule(leaf string) string {
	return `{"requestContext":{"taskInstances":{"taskInstanceState":["ACTIVE"],"provider":{"id":["XXXXXXXXXXXX"]},
		"resources":{"additionalContext":{"capabilityInterfaces":{"` + leaf + `":[{"exists":false}]}}}}}}`
}

const acExistsFalseEvent1 = `{"requestContext":{"taskInstances":[
 {"taskInstanceId":"id1","taskInstanceState":"ACTIVE","provider":{"id":"XXXXXXXXXXXX","type":"XXXXXXXX"},
  "resources":[{"legacyFocusCategory":"XXXXXFocus","endpointIdentifier":{"type":"XXXIdentifier","MaskedNumber":"XXXXXXXXXX"}}]},
 {"taskInstanceId":"id1","taskInstanceState":"InACTIVE","provider":{"id":"SomeRandom","type":"XXXXXXXX"},
  "resources":[{"legacyFocusCategory":"XXXXXFocus","endpointIdentifier":{"type":"XXXIdentifier","MaskedNumber":"XXXXXXXXXXXX"},
   "additionalContext":{"capabilityInterfaces":[{"interfaceName":"Dummy.DummyDumDum"}]}}]}]}}`

const acExistsFalseEvent2 = `{"requestContext":{"taskInstances":[
 {"taskInstanceId":"id1","taskInstanceState":"ACTIVE","provider":{"id":"XXXXXXXXXXXX","type":"XXXXXXXX"},
  "resources":[{"legacyFocusCategory":"XXXXXFocus","endpointIdentifier":{"type":"XXXIdentifier","MaskedNumber":"XXXXXXXXXX"},
   "additionalContext":{"capabilityInterfaces":[{"interfaceName":"XXXX.XXXXXXXXXXXXXX"}]}}]},
 {"taskInstanceId":"id1","taskInstanceState":"InACTIVE","provider":{"id":"SomeRandom","type":"XXXXXXXX"},
  "resources":[{"legacyFocusCategory":"XXXXXFocus","endpointIdentifier":{"type":"XXXIdentifier","MaskedNumber":"XXXXXXXXXXXX"},
   "additionalContext":{"capabilityInterfaces":[{"interfaceName":"XXXX.XXXXXXXXXXXXXX"}]}}]}]}}`

func TestEventRulerRulerTest(t *testing.T) {
	runCases(t, EventBridge, rulerTestCases)
}
