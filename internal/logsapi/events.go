package logsapi

import (
	"context"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/logstore"
)

// Tokens: GetLogEvents answers "f/<position>" (read forward from there)
// and "b/<position>" (read backward from there), FilterLogEvents
// "n/<position>"; a position is an event id (logstore.Position.ID).

func pageToken(kind byte, p logstore.Position) *string {
	s := string(kind) + "/" + p.ID()
	return &s
}

func parseToken(s string, kinds string) (byte, logstore.Position, error) {
	if len(s) < 3 || s[1] != '/' || !strings.ContainsRune(kinds, rune(s[0])) {
		return 0, logstore.Position{}, invalidParam("The specified nextToken is invalid.")
	}
	p, ok := logstore.ParsePosition(s[2:])
	if !ok {
		return 0, logstore.Position{}, invalidParam("The specified nextToken is invalid.")
	}
	return s[0], p, nil
}

func after(p logstore.Position) logstore.Position {
	return logstore.Position{Seq: p.Seq, Idx: p.Idx + 1}
}

type outputEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type getEventsIn struct {
	LogGroupName       *string `json:"logGroupName"`
	LogGroupIdentifier *string `json:"logGroupIdentifier"`
	LogStreamName      *string `json:"logStreamName"`
	StartTime          *int64  `json:"startTime"`
	EndTime            *int64  `json:"endTime"`
	NextToken          *string `json:"nextToken"`
	Limit              *int    `json:"limit"`
	StartFromHead      *bool   `json:"startFromHead"`
}

// getEvents reads one log stream. Without a token it returns the newest
// events (or the oldest with startFromHead); nextForwardToken continues
// after the last event returned and stays the same once the end is
// reached (how clients see they are done); nextBackwardToken continues
// before the first.
func (h *Handler) getEvents(ctx context.Context, in *getEventsIn) (any, error) {
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier, true)
	if err != nil {
		return nil, err
	}
	if in.LogStreamName == nil || *in.LogStreamName == "" {
		return nil, invalidParam("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null")
	}
	stream := *in.LogStreamName
	limit, err := checkLimit(in.Limit, 10000, 10000)
	if err != nil {
		return nil, err
	}
	q := logstore.Query{Group: group, Streams: []string{stream}, Limit: limit}
	if in.StartTime != nil {
		q.StartTime = *in.StartTime
	}
	if in.EndTime != nil {
		q.EndTime = *in.EndTime
	}
	fromHead := in.StartFromHead != nil && *in.StartFromHead
	var tokPos *logstore.Position
	kind := byte('f')
	if in.NextToken != nil {
		k, p, err := parseToken(*in.NextToken, "fb")
		if err != nil {
			return nil, err
		}
		kind, tokPos = k, &p
	}
	switch {
	case tokPos != nil && kind == 'f':
		q.From = tokPos
	case tokPos != nil: // backward
		q.Before, q.Last = tokPos, true
	case !fromHead:
		q.Last = true
	}
	h.flush(ctx)
	if _, err := h.opts.Store.Group(ctx, group); err != nil {
		return nil, err
	}
	if ok, err := h.opts.Store.HasStream(ctx, group, stream); err != nil {
		return nil, err
	} else if !ok {
		return nil, errStreamNotFound
	}
	evs, _, err := h.opts.Store.Scan(ctx, q)
	if err != nil {
		return nil, err
	}
	out := struct {
		Events            []outputEvent `json:"events"`
		NextForwardToken  *string       `json:"nextForwardToken"`
		NextBackwardToken *string       `json:"nextBackwardToken"`
	}{Events: make([]outputEvent, 0, len(evs))}
	for _, e := range evs {
		out.Events = append(out.Events, outputEvent{Timestamp: e.Timestamp, Message: e.Message, IngestionTime: e.IngestionTime})
	}
	if len(evs) > 0 {
		out.NextForwardToken = pageToken('f', after(evs[len(evs)-1].Pos))
		out.NextBackwardToken = pageToken('b', evs[0].Pos)
	} else {
		p := logstore.Position{}
		if tokPos != nil {
			p = *tokPos
		}
		out.NextForwardToken = pageToken('f', p)
		out.NextBackwardToken = pageToken('b', p)
	}
	return out, nil
}

type filterEventsIn struct {
	LogGroupName        *string  `json:"logGroupName"`
	LogGroupIdentifier  *string  `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix *string  `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       *string  `json:"filterPattern"`
	NextToken           *string  `json:"nextToken"`
	Limit               *int     `json:"limit"`
	Interleaved         *bool    `json:"interleaved"`
}

type filteredEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

type searchedStream struct {
	LogStreamName      string `json:"logStreamName"`
	SearchedCompletely bool   `json:"searchedCompletely"`
}

// filterEvents searches a group's streams in ingestion order; nextToken is
// set when the limit cut the answer short.
func (h *Handler) filterEvents(ctx context.Context, in *filterEventsIn) (any, error) {
	group, err := groupName(in.LogGroupName, in.LogGroupIdentifier, true)
	if err != nil {
		return nil, err
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != nil {
		return nil, invalidParam("Cannot specify both logStreamNames and logStreamNamePrefix.")
	}
	if len(in.LogStreamNames) > 100 {
		return nil, invalidParam("1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	limit, err := checkLimit(in.Limit, 10000, 10000)
	if err != nil {
		return nil, err
	}
	q := logstore.Query{Group: group, Limit: limit, Streams: in.LogStreamNames}
	if in.StartTime != nil {
		q.StartTime = *in.StartTime
	}
	if in.EndTime != nil {
		q.EndTime = *in.EndTime + 1 // FilterLogEvents' endTime is inclusive
	}
	if in.FilterPattern != nil {
		p, err := ParsePattern(*in.FilterPattern)
		if err != nil {
			return nil, invalidParam("Invalid filter pattern: %s", strings.TrimPrefix(err.Error(), errPattern.Error()+": "))
		}
		q.Match = p.Match
	}
	if in.NextToken != nil {
		_, p, err := parseToken(*in.NextToken, "n")
		if err != nil {
			return nil, err
		}
		q.From = &p
	}
	h.flush(ctx)
	streams, err := h.opts.Store.Streams(ctx, group, "")
	if err != nil {
		return nil, err
	}
	var searched []searchedStream
	if in.LogStreamNamePrefix != nil {
		for _, s := range streams {
			if strings.HasPrefix(s.Name, *in.LogStreamNamePrefix) {
				q.Streams = append(q.Streams, s.Name)
			}
		}
		if len(q.Streams) == 0 {
			return filterOut{Events: []filteredEvent{}, SearchedLogStreams: []searchedStream{}}, nil
		}
	}
	if len(q.Streams) > 0 {
		for _, s := range q.Streams {
			searched = append(searched, searchedStream{s, true})
		}
	} else {
		for _, s := range streams {
			searched = append(searched, searchedStream{s.Name, true})
		}
	}
	evs, more, err := h.opts.Store.Scan(ctx, q)
	if err != nil {
		return nil, err
	}
	out := filterOut{Events: make([]filteredEvent, 0, len(evs)), SearchedLogStreams: searched}
	if out.SearchedLogStreams == nil {
		out.SearchedLogStreams = []searchedStream{}
	}
	for _, e := range evs {
		out.Events = append(out.Events, filteredEvent{LogStreamName: e.Stream, Timestamp: e.Timestamp, Message: e.Message,
			IngestionTime: e.IngestionTime, EventID: e.Pos.ID()})
	}
	if more && len(evs) > 0 {
		out.NextToken = pageToken('n', after(evs[len(evs)-1].Pos))
	}
	return out, nil
}

type filterOut struct {
	Events             []filteredEvent  `json:"events"`
	SearchedLogStreams []searchedStream `json:"searchedLogStreams"`
	NextToken          *string          `json:"nextToken,omitempty"`
}
