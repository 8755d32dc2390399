package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuSample is the CPU time used so far by the whole machine (busy, out of
// total) and by one process, at one moment.
type cpuSample struct {
	busy, total time.Duration
	proc        time.Duration
}

// sampleCPU reads /proc/stat and /proc/<pid>/stat.
func sampleCPU(pid int) (cpuSample, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}, err
	}
	busy, total, err := parseProcStat(string(b))
	if err != nil {
		return cpuSample{}, err
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuSample{}, err
	}
	proc, err := parsePidStat(string(b))
	return cpuSample{busy: busy, total: total, proc: proc}, err
}

// parseProcStat reads the machine's busy and total CPU time from the
// "cpu" line of /proc/stat: user nice system idle iowait irq softirq steal.
func parseProcStat(s string) (busy, total time.Duration, err error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, errors.New("no cpu line in /proc/stat")
	}
	var t [8]int64
	for i := range t {
		if t[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
	}
	idle := t[3] + t[4]
	b := t[0] + t[1] + t[2] + t[5] + t[6] + t[7]
	return time.Duration(b) * clockTick, time.Duration(b+idle) * clockTick, nil
}

// parsePidStat reads a process's CPU time (utime + stime, all threads)
// from /proc/<pid>/stat. The command name, field 2, may hold spaces and
// parentheses, so fields are counted from the last ')'.
func parsePidStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/<pid>/stat")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("short /proc/<pid>/stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/<pid>/stat: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}
