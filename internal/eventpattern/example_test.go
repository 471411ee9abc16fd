package eventpattern_test

import (
	"errors"
	"fmt"

	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

func ExampleCompile() {
	p, err := eventpattern.Compile(eventpattern.EventBridge, []byte(`{
		"source": ["aws.ec2"],
		"detail": {"state": [{"anything-but": "initializing"}], "c-count": [{"numeric": [">", 0, "<=", 5]}]}
	}`))
	if err != nil {
		panic(err)
	}
	ok, _ := p.Match([]byte(`{"source":"aws.ec2","detail":{"state":"running","c-count":5}}`))
	fmt.Println(ok)

	_, err = eventpattern.Compile(eventpattern.EventBridge, []byte(`{"source":"aws.ec2"}`))
	var e *eventpattern.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code)
		fmt.Println(e.Message)
	}
	// Output:
	// true
	// InvalidEventPatternException
	// Event pattern is not valid. Reason: "source" must be an object or an array
}

func ExampleSet() {
	rules := eventpattern.NewSet(
		eventpattern.MustCompile(eventpattern.EventBridge, `{"source":["aws.s3"]}`),
		eventpattern.MustCompile(eventpattern.EventBridge, `{"detail":{"object":{"key":[{"suffix":".png"}]}}}`),
		eventpattern.MustCompile(eventpattern.EventBridge, `{"source":["aws.ec2"]}`),
	)
	matched, _ := rules.Match([]byte(`{"source":"aws.s3","detail":{"object":{"key":"cat.png"}}}`), nil)
	fmt.Println(matched)
	// Output: [0 1]
}

func ExamplePattern_MatchAttributes() {
	policy := eventpattern.MustCompile(eventpattern.SNSAttributes, `{"store":["example_corp"],"price_usd":[{"numeric":[">=",100]}]}`)
	ok, _ := policy.MatchAttributes([]eventpattern.Attribute{
		{Name: "store", Type: "String", Value: "example_corp"},
		{Name: "price_usd", Type: "Number", Value: "210.75"},
	})
	fmt.Println(ok)
	// Output: true
}

func ExampleCompileFilters() {
	filters, err := eventpattern.CompileFilters([]string{`{"body":{"RequestCode":["BBBB"]}}`})
	if err != nil {
		panic(err)
	}
	record := []byte(`{"messageId":"1","body":"{\"RequestCode\":\"BBBB\"}","eventSource":"aws:sqs"}`)
	ok, _ := filters.Match(record, eventpattern.EnvelopeSQS)
	fmt.Println(ok)
	// Output: true
}
