// Command gcs-forward-ref forwards a GCS log stream the way a Go container
// host does (hcsshim's internal/vm/vmutils.ParseGCSLogrus): encoding/json
// decodes one entry after another, logrus prints each. It is test code:
// tests/sh/gcs_diff.sh runs it beside `vmutils gcs-logs` and wants the same
// bytes, apart from the host's own "time" value; bench/gcs_logs.sh times it.
//
// It builds offline from Debian's packages (golang-go,
// golang-github-sirupsen-logrus-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o gcs-forward-ref .
//
// Use: gcs-forward-ref -vm-id ID [-format json|text] [-level LEVEL] < stream
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
)

// standard holds the three keys logrus itself writes. The type's name shows
// in decoding errors ("Go struct field standard.level"), which vmutils
// reproduces, so it stays "standard".
type standard struct {
	Time    time.Time    `json:"time"`
	Level   logrus.Level `json:"level"`
	Message string       `json:"msg"`
}

// record is one guest entry: its standard keys, and every key in Fields,
// which is the map of the logrus entry that prints it.
type record struct {
	standard
	Fields map[string]interface{}
}

// UnmarshalJSON decodes the entry twice, once for the typed keys and once
// for all of them, then applies the host's rules to the result.
func (r *record) UnmarshalJSON(data []byte) error {
	r.Level = logrus.InfoLevel // an entry without "level" is info
	if err := json.Unmarshal(data, &r.standard); err != nil {
		return err
	}
	if err := json.Unmarshal(data, &r.Fields); err != nil {
		return err
	}
	r.Level = capSeverity(r.Level)
	for _, key := range []string{"time", "level", "msg"} {
		delete(r.Fields, key)
	}
	r.takeETWMessage()
	intsForWholeFloats(r.Fields)
	return nil
}

// capSeverity keeps a guest from raising fatal or panic on the host: both
// are logged as error.
func capSeverity(level logrus.Level) logrus.Level {
	if level < logrus.ErrorLevel {
		return logrus.ErrorLevel
	}
	return level
}

// takeETWMessage moves the text of an ETW entry ("Source":"ETW") from
// "message", else "Message", to the entry's message, when it is a string.
func (r *record) takeETWMessage() {
	if source, ok := r.Fields["Source"].(string); !ok || source != "ETW" {
		return
	}
	for _, key := range []string{"message", "Message"} {
		text, ok := r.Fields[key].(string)
		if !ok {
			continue
		}
		r.Message = text
		delete(r.Fields, key)
		return
	}
}

// intsForWholeFloats turns the top-level numbers that survive a round trip
// through int64 into int64, so that 3.0 prints as 3. Nested values stay as
// decoded.
func intsForWholeFloats(fields map[string]interface{}) {
	for key, value := range fields {
		f, ok := value.(float64)
		if !ok {
			continue
		}
		if n := int64(f); float64(n) == f {
			fields[key] = n
		}
	}
}

// forwarder logs the entries of one VM's stream.
type forwarder struct {
	vmID   string
	logger *logrus.Logger
}

// expectedEnd tells whether a decoding error is how a stream normally stops:
// its end, the guest closing the connection, or text that is not JSON (a
// crash dump, logged whole as "gcs terminated" instead).
func expectedEnd(err error) bool {
	var syntax *json.SyntaxError
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.As(err, &syntax)
}

// run forwards entries until the first one that does not decode, then logs
// what remains of the stream, trimmed, if anything does.
func (f *forwarder) run(stream io.Reader) {
	decoder := json.NewDecoder(stream)
	// One entry and one map for the whole stream: each record decodes into
	// the map that the entry prints.
	entry := logrus.NewEntry(f.logger)
	for {
		for key := range entry.Data {
			delete(entry.Data, key)
		}
		rec := record{Fields: entry.Data}
		err := decoder.Decode(&rec)
		if err == nil {
			entry.Data["uvm-id"] = f.vmID
			entry.Data["vm.time"] = rec.Time
			entry.Log(rec.Level, rec.Message)
			continue
		}
		if !expectedEnd(err) {
			f.logger.WithFields(logrus.Fields{"uvm-id": f.vmID, logrus.ErrorKey: err}).Error("gcs log read")
		}
		rest, _ := io.ReadAll(io.MultiReader(decoder.Buffered(), stream))
		if rest = bytes.TrimSpace(rest); len(rest) > 0 {
			f.logger.WithFields(logrus.Fields{"uvm-id": f.vmID, "stderr": string(rest)}).Error("gcs terminated")
		}
		return
	}
}

func main() {
	vmID := flag.String("vm-id", "", "the VM's id, added to every record as uvm-id (required)")
	format := flag.String("format", "json", "record format: json or text")
	levelName := flag.String("level", "trace", "the least severe level printed")
	flag.Parse()

	level, err := logrus.ParseLevel(*levelName)
	if err != nil || *vmID == "" || (*format != "json" && *format != "text") || flag.NArg() != 0 {
		if err == nil {
			err = errors.New("usage: gcs-forward-ref -vm-id ID [-format json|text] [-level LEVEL] < stream")
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	out := bufio.NewWriterSize(os.Stdout, 64*1024)
	logger := logrus.New()
	logger.Out = out
	logger.Level = level
	if *format == "text" {
		logger.Formatter = &logrus.TextFormatter{DisableColors: true}
	} else {
		logger.Formatter = &logrus.JSONFormatter{}
	}

	(&forwarder{vmID: *vmID, logger: logger}).run(os.Stdin)
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
