package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/taskmaster/taskmaster/jobs"
)

// BenchmarkStatusDecode compares the two JSON libraries on what
// taskmasterctl status reads: the reply of a job of 200 running instances.
func BenchmarkStatusDecode(b *testing.B) {
	now := time.Date(2026, 12, 5, 6, 0, 0, 123456789, time.UTC)
	st := jobs.JobStatus{Name: "web", State: "RUNNING", AutoStart: true, Healthy: true}
	for i := range 200 {
		st.Processes = append(st.Processes, jobs.ProcessStatus{Name: fmt.Sprintf("web:%d", i), Pid: 1000 + i,
			State: "RUNNING", Since: now, Started: now})
	}
	data, _ := json.Marshal(map[string]any{"jobs": []jobs.JobStatus{st}})
	type reply struct {
		Jobs *[]jobStatus `json:"jobs"`
	}
	var want reply
	if err := json.Unmarshal(data, &want); err != nil {
		b.Fatal(err)
	}
	libs := map[string]func([]byte, any) error{"encoding-json": json.Unmarshal, "goccy": gojson.Unmarshal}
	for _, name := range []string{"encoding-json", "goccy"} {
		unmarshal := libs[name]
		b.Run(name, func(b *testing.B) {
			var got reply
			if err := unmarshal(data, &got); err != nil || !reflect.DeepEqual(got, want) {
				b.Fatalf("%s differs from encoding/json: %v", name, err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				var r reply
				if err := unmarshal(data, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStatusTable is the table of taskmasterctl status for a job of
// 200 running instances.
func BenchmarkStatusTable(b *testing.B) {
	now := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	st := jobStatus{Name: "web", State: "RUNNING"}
	for i := range 200 {
		st.Processes = append(st.Processes, processStatus{Name: fmt.Sprintf("web:%d", i), Pid: 1000 + i,
			State: "RUNNING", Since: now.Add(-time.Hour)})
	}
	b.ReportAllocs()
	for b.Loop() {
		writeTable(io.Discard, []jobStatus{st}, now, false)
	}
}
