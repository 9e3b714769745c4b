package ctlproto

import (
	"encoding/json"
	"errors"
)

// jobList is the payload of a list reply. The document names the array
// "jobs"; the original client reads "processes". Sending both satisfies
// either reader.
type jobList struct {
	Jobs      []jobName `json:"jobs"`
	Processes []jobName `json:"processes"`
}

type jobName struct {
	Name string `json:"name"`
}

// EncodeJobList builds the payload of a list reply, without whitespace:
// {"jobs":[{"name":"a"}],"processes":[{"name":"a"}]}.
func EncodeJobList(names []string) []byte {
	list := make([]jobName, len(names))
	for i, n := range names {
		list[i] = jobName{Name: n}
	}
	b, _ := json.Marshal(jobList{Jobs: list, Processes: list}) // cannot fail
	return b
}

// DecodeJobList reads the job names of a list payload from "jobs", or from
// "processes" when "jobs" is absent.
func DecodeJobList(data []byte) ([]string, error) {
	var list struct {
		Jobs      *[]jobName `json:"jobs"`
		Processes *[]jobName `json:"processes"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, err
	}
	src := list.Jobs
	if src == nil {
		src = list.Processes
	}
	if src == nil {
		return nil, errors.New(`job list has neither "jobs" nor "processes"`)
	}
	names := make([]string, len(*src))
	for i, j := range *src {
		names[i] = j.Name
	}
	return names, nil
}
