// Command oss-go-upload is the Go peer of the benchmark harness: it gets an UploadAuth from the
// simulator's VOD (CreateUploadVideo, signed with the account key) and uploads one file with
// aliyun-oss-go-sdk's resumable `Bucket.UploadFile` (checkpoint on, N routines), then prints one
// JSON line {"tool":"aliyun-oss-go-sdk","bytes":N,"seconds":S,...}.
//
// With -mode put it is the harness's ceiling instead: one plain PutObject of the whole file,
// streamed from disk by net/http with a V1 signature, no SDK and no checksum work
// ({"tool":"plain-put",...}).
//
// There is no small Go VOD SDK, so the one RPC call is made here with the documented HMAC-SHA1
// signature (a GET with every parameter in the query, as the mobile VOD SDKs send it).
package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aliyun/aliyun-oss-go-sdk/oss"
)

type simInfo struct {
	VodEndpoint     string `json:"vod_endpoint"`
	Region          string `json:"region"`
	AccessKeyID     string `json:"access_key_id"`
	AccessKeySecret string `json:"access_key_secret"`
}

type uploadAddress struct {
	Endpoint string
	Bucket   string
	FileName string
}

type uploadAuth struct {
	AccessKeyId     string
	AccessKeySecret string
	SecurityToken   string
	Region          string
}

// fileList is a repeatable -file flag.
type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(v string) error { *f = append(*f, v); return nil }

// httpClient is used for every request (VOD, OSS, plain PUT): the default transport, plus the
// -ca-file roots for a simulator serving HTTPS with a private CA.
var httpClient = &http.Client{Timeout: 30 * time.Minute}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "oss-go-upload:", err)
		os.Exit(1)
	}
}

func run() error {
	simJSON := flag.String("sim-info", "", "the simulator's JSON line (instead of the endpoint and key flags)")
	vodEndpoint := flag.String("vod-endpoint", "", "VOD endpoint URL, e.g. http://127.0.0.1:PORT")
	akID := flag.String("access-key-id", "", "account AccessKeyId")
	akSecret := flag.String("access-key-secret", "", "account AccessKeySecret")
	region := flag.String("region", "cn-shanghai", "region (for V4)")
	var files fileList
	flag.Var(&files, "file", "file to upload (repeatable: the files one after the other, then a summary line)")
	caFile := flag.String("ca-file", "", "PEM file of CA certificates to trust (a simulator's private CA)")
	partSize := flag.Int64("part-size", 8<<20, "part size in bytes")
	threads := flag.Int("threads", 4, "parallel part uploads (oss.Routines)")
	sig := flag.String("sig", "v1", "OSS signature version: v1 or v4")
	cpDir := flag.String("checkpoint-dir", "", "directory for the checkpoint file (default: a temp dir)")
	mode := flag.String("mode", "resumable", "resumable (Bucket.UploadFile) or put (one plain PutObject, V1)")
	vodState := flag.String("vod-state", "", "file that keeps the VideoId between runs: when it exists, RefreshUploadVideo "+
		"gets fresh credentials for the same video (as the VOD SDKs resume), so the checkpoint stays valid")
	flag.Parse()

	info := simInfo{VodEndpoint: *vodEndpoint, Region: *region, AccessKeyID: *akID, AccessKeySecret: *akSecret}
	if *simJSON != "" {
		if err := json.Unmarshal([]byte(*simJSON), &info); err != nil {
			return fmt.Errorf("--sim-info: %w", err)
		}
		if info.Region == "" {
			info.Region = *region
		}
	}
	if info.VodEndpoint == "" || info.AccessKeyID == "" || info.AccessKeySecret == "" || len(files) == 0 {
		return errors.New("need --sim-info (or --vod-endpoint, --access-key-id, --access-key-secret) and --file")
	}
	if *sig != "v1" && *sig != "v4" {
		return fmt.Errorf("--sig must be v1 or v4, not %q", *sig)
	}
	if *mode != "put" && *mode != "put-copy" && *mode != "resumable" {
		return fmt.Errorf("--mode must be resumable, put or put-copy, not %q", *mode)
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: no certificate", *caFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
		httpClient = &http.Client{Transport: tr, Timeout: 30 * time.Minute}
	}
	if len(files) == 1 {
		out, err := uploadOne(info, files[0], *mode, *sig, *partSize, *threads, *cpDir, *vodState, "upload.cp")
		if err != nil {
			return err
		}
		fmt.Println(string(out))
		return nil
	}
	// Many files, one after the other (each with its own VOD call, as an app would do).
	start := time.Now()
	var total int64
	tool := "aliyun-oss-go-sdk"
	if *mode != "resumable" {
		tool = "plain-" + *mode
	}
	for i, f := range files {
		state := ""
		if *vodState != "" {
			state = fmt.Sprintf("%s.%d", *vodState, i)
		}
		out, err := uploadOne(info, f, *mode, *sig, *partSize, *threads, *cpDir, state, fmt.Sprintf("upload-%d.cp", i))
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		fmt.Println(string(out))
		st, _ := os.Stat(f)
		total += st.Size()
	}
	out, _ := json.Marshal(map[string]any{
		"tool": tool, "files": len(files), "bytes": total, "seconds": time.Since(start).Seconds(),
	})
	fmt.Println(string(out))
	return nil
}

// uploadOne uploads one file (VOD call included) and returns its JSON result line.
func uploadOne(info simInfo, file, mode, sig string, partSize int64, threads int, cpDir, vodState, cpName string) ([]byte, error) {
	st, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	addr, auth, videoID, err := uploadCredentials(info, filepath.Base(file), st.Size(), vodState)
	if err != nil {
		return nil, err
	}
	endpoint := addr.Endpoint
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	if mode != "resumable" {
		return plainPut(endpoint, addr, auth, file, st.Size(), videoID, mode == "put-copy")
	}
	opts := []oss.ClientOption{oss.SecurityToken(auth.SecurityToken), oss.ForcePathStyle(true), oss.HTTPClient(httpClient)}
	if sig == "v4" {
		r := auth.Region
		if r == "" {
			r = info.Region
		}
		opts = append(opts, oss.AuthVersion(oss.AuthV4), oss.Region(r))
	}
	client, err := oss.New(endpoint, auth.AccessKeyId, auth.AccessKeySecret, opts...)
	if err != nil {
		return nil, err
	}
	bucket, err := client.Bucket(addr.Bucket)
	if err != nil {
		return nil, err
	}

	dir := cpDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "oss-go-cp"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	cp := filepath.Join(dir, cpName)

	start := time.Now()
	err = bucket.UploadFile(addr.FileName, file, partSize, oss.Routines(threads), oss.Checkpoint(true, cp))
	seconds := time.Since(start).Seconds()
	if err != nil {
		return nil, fmt.Errorf("UploadFile: %w", err)
	}
	out, _ := json.Marshal(map[string]any{
		"tool": "aliyun-oss-go-sdk", "bytes": st.Size(), "seconds": seconds, "video_id": videoID,
		"bucket": addr.Bucket, "object": addr.FileName, "part_size": partSize, "threads": threads, "sig": sig,
	})
	return out, nil
}

// plainPut sends the file as one PutObject (path style, V1 with the STS token, protocol.md 3.1).
//
// With copy, the file is read into user space through a 256 KiB buffer and written to the socket
// (what any client that checksums or encrypts its bytes has to do) instead of sendfile(2), which
// net/http uses for an *os.File body over plain HTTP and which never brings the bytes into the
// process.
func plainPut(endpoint string, addr uploadAddress, auth uploadAuth, file string, size int64, videoID string, copyBody bool) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var body io.Reader = f
	client := httpClient
	tool := "plain-put"
	if copyBody {
		// Hiding *os.File hides its ReadFrom/WriteTo, so no sendfile; a large write buffer keeps
		// the syscalls as few as the engine's.
		body = struct{ io.Reader }{f}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if t, ok := httpClient.Transport.(*http.Transport); ok {
			tr = t.Clone()
		}
		tr.WriteBufferSize = 256 << 10
		client = &http.Client{Transport: tr, Timeout: httpClient.Timeout}
		tool = "plain-put-copy"
	}
	// Path style, the key percent-encoded with "/" kept; the signature uses the raw key.
	escaped := strings.ReplaceAll(url.PathEscape(addr.FileName), "%2F", "/")
	req, err := http.NewRequest(http.MethodPut, strings.TrimRight(endpoint, "/")+"/"+addr.Bucket+"/"+escaped, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	date := time.Now().UTC().Format(http.TimeFormat)
	const contentType = "application/octet-stream"
	req.Header.Set("Date", date)
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("x-oss-security-token", auth.SecurityToken)
	toSign := "PUT\n\n" + contentType + "\n" + date + "\nx-oss-security-token:" + auth.SecurityToken + "\n/" + addr.Bucket + "/" + addr.FileName
	mac := hmac.New(sha1.New, []byte(auth.AccessKeySecret))
	mac.Write([]byte(toSign))
	req.Header.Set("Authorization", "OSS "+auth.AccessKeyId+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))

	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	seconds := time.Since(start).Seconds()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("PutObject: HTTP %d: %s", resp.StatusCode, reply)
	}
	out, _ := json.Marshal(map[string]any{
		"tool": tool, "bytes": size, "seconds": seconds, "video_id": videoID,
		"bucket": addr.Bucket, "object": addr.FileName, "sig": "v1",
		"crc64": resp.Header.Get("x-oss-hash-crc64ecma"),
	})
	return out, nil
}

// uploadCredentials gets the UploadAddress/UploadAuth: RefreshUploadVideo for the VideoId kept in
// stateFile when there is one (a resumed run), CreateUploadVideo otherwise (then the VideoId is
// written to stateFile before any byte is uploaded).
func uploadCredentials(info simInfo, fileName string, size int64, stateFile string) (uploadAddress, uploadAuth, string, error) {
	if stateFile != "" {
		if raw, err := os.ReadFile(stateFile); err == nil {
			var st struct{ VideoId string }
			if err := json.Unmarshal(raw, &st); err != nil || st.VideoId == "" {
				return uploadAddress{}, uploadAuth{}, "", fmt.Errorf("%s: no VideoId", stateFile)
			}
			addr, auth, id, err := callVOD(info, map[string]string{"Action": "RefreshUploadVideo", "VideoId": st.VideoId})
			if err != nil {
				return addr, auth, id, fmt.Errorf("RefreshUploadVideo: %w", err)
			}
			return addr, auth, st.VideoId, nil
		}
	}
	addr, auth, id, err := callVOD(info, map[string]string{
		"Action": "CreateUploadVideo", "Title": "bench " + fileName, "FileName": fileName, "FileSize": fmt.Sprint(size),
	})
	if err != nil {
		return addr, auth, id, fmt.Errorf("CreateUploadVideo: %w", err)
	}
	if stateFile != "" {
		raw, _ := json.Marshal(map[string]string{"VideoId": id})
		tmp := stateFile + ".tmp"
		if err := os.WriteFile(tmp, raw, 0o600); err != nil {
			return addr, auth, id, err
		}
		if err := os.Rename(tmp, stateFile); err != nil {
			return addr, auth, id, err
		}
	}
	return addr, auth, id, nil
}

// callVOD calls a VOD RPC action with the account key (protocol.md 6.3); the response carries
// VideoId, UploadAddress and UploadAuth (CreateUploadVideo, RefreshUploadVideo).
func callVOD(info simInfo, action map[string]string) (uploadAddress, uploadAuth, string, error) {
	var addr uploadAddress
	var auth uploadAuth
	nonce := make([]byte, 16)
	if _, err := rand.Read(nonce); err != nil {
		return addr, auth, "", err
	}
	params := map[string]string{
		"Version": "2017-03-21", "Format": "JSON",
		"AccessKeyId": info.AccessKeyID, "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
		"SignatureNonce": hex.EncodeToString(nonce), "Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05Z"),
		"RegionId": info.Region,
	}
	for k, v := range action {
		params[k] = v
	}
	query, signature := signRPC(http.MethodGet, params, info.AccessKeySecret)
	u := strings.TrimRight(info.VodEndpoint, "/") + "/?" + query + "&Signature=" + percentEncode(signature)

	resp, err := httpClient.Get(u)
	if err != nil {
		return addr, auth, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return addr, auth, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return addr, auth, "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, body)
	}
	var r struct{ VideoId, UploadAddress, UploadAuth string }
	if err := json.Unmarshal(body, &r); err != nil {
		return addr, auth, "", fmt.Errorf("response: %w", err)
	}
	if err := decodeB64JSON(r.UploadAddress, &addr); err != nil {
		return addr, auth, "", fmt.Errorf("UploadAddress: %w", err)
	}
	if err := decodeB64JSON(r.UploadAuth, &auth); err != nil {
		return addr, auth, "", fmt.Errorf("UploadAuth: %w", err)
	}
	return addr, auth, r.VideoId, nil
}

// signRPC returns the canonical query string and the HMAC-SHA1 signature of an RPC request.
func signRPC(method string, params map[string]string, secret string) (string, string) {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = percentEncode(k) + "=" + percentEncode(params[k])
	}
	query := strings.Join(pairs, "&")
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(method + "&%2F&" + percentEncode(query)))
	return query, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func decodeB64JSON(s string, v any) error {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// percentEncode is RFC 3986 (unreserved kept, space as %20), as the RPC signature requires.
func percentEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}
