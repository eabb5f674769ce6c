module github.com/feedbus/feedbus

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/klauspost/compress v1.20.3
	github.com/pebbe/zmq4 v1.4.0
	golang.org/x/sys v0.49.0
)
