module github.com/feedbus/feedbus

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/klauspost/compress v1.20.3
	github.com/pebbe/zmq4 v1.4.0
	golang.org/x/sys v0.49.0
)

require github.com/prometheus/procfs v0.23.0

require (
	github.com/google/gopacket v1.1.19
	golang.org/x/net v0.0.0-20190620200207-3b0461eec859 // indirect
)
