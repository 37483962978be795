module vod-upload/bench/peers/go

go 1.22

require github.com/aliyun/aliyun-oss-go-sdk v3.0.2+incompatible

require (
	golang.org/x/time v0.5.0 // indirect
	gopkg.in/check.v1 v1.0.0-20201130134442-10cb98267c6c // indirect
)
