package main

import "testing"

// The VOD API documentation's signature example (protocol.md 6.3).
func TestSignRPCDocumentedVector(t *testing.T) {
	params := map[string]string{
		"AccessKeyId": "testAccessKeyId", "Action": "GetVideoPlayAuth", "Format": "JSON",
		"SignatureMethod": "HMAC-SHA1", "SignatureNonce": "8f8a035d-6496-4268-afd4-67c22837e38d",
		"SignatureVersion": "1.0", "Timestamp": "2017-10-10T12:02:54Z", "Version": "2017-03-21",
		"VideoId": "5aed81b74ba84920be578cdfe004af4b",
	}
	_, sig := signRPC("GET", params, "testAccessKeySecret")
	if sig != "Ibgh7y8Vp47LBuAsf5Xhi1SvDss=" {
		t.Fatalf("signature %s", sig)
	}
}

// The derived STS + non-ASCII vector (protocol.md 6.3).
func TestSignRPCNonASCII(t *testing.T) {
	params := map[string]string{
		"AccessKeyId": "STS.NTestAccessKeyId", "Action": "CreateUploadVideo", "FileName": "my video(1).mp4",
		"FileSize": "10485760", "Format": "JSON", "RegionId": "cn-shanghai",
		"SecurityToken": "CAIS_test_security_token", "SignatureMethod": "HMAC-SHA1",
		"SignatureNonce": "c4a3b1e0-5f7e-4d3a-9a43-0b6b2f3f9e11", "SignatureVersion": "1.0",
		"Timestamp": "2025-06-02T08:00:00Z", "Title": "测试 video", "Version": "2017-03-21",
	}
	_, sig := signRPC("GET", params, "TestAccessKeySecret")
	if sig != "UWnbTs0XuFPercc/SVj7b0yYQX4=" {
		t.Fatalf("signature %s", sig)
	}
}
