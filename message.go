package feedbus

import (
	"github.com/feedbus/feedbus/bus"
	"github.com/feedbus/feedbus/fanout"
)

// Message is what a Handler is given: the market message (kind, symbol,
// quote or trade fields, or an application kind's Body) with its sequence
// number, the publisher's send time and the receive time. It is valid only
// during the Handle call; copy what you keep.
type Message = fanout.Message

// Handler processes a subscriber's messages on its worker goroutines; see
// fanout.Handler for the rules.
type Handler = fanout.Handler

// HandlerFunc adapts a function to Handler.
type HandlerFunc = fanout.HandlerFunc

// Books is the Handler that keeps a last-value book per symbol.
type Books = fanout.Books

// NewBooks returns an empty Books handler.
func NewBooks() *Books { return fanout.NewBooks() }

// Handlers calls each handler in turn for every message: for example the
// application's own handler beside a Books.
func Handlers(hs ...Handler) Handler {
	hs = append([]Handler(nil), hs...)
	return HandlerFunc(func(m *Message) {
		for _, h := range hs {
			h.Handle(m)
		}
	})
}

// Kinds, re-exported for applications that import only this package.
const (
	KindQuote    = bus.KindQuote
	KindTrade    = bus.KindTrade
	KindAppFirst = bus.KindAppFirst
)
