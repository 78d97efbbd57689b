package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// The docker backend's image is built offline, with no registry: FROM scratch, holding the host's redis-server
// binary and the shared libraries it loads, at the paths ldd gives (plus, when asked, libfaketime and its shim).
// The image is tagged with a hash of its content, kept after the run, and built only when no image with that
// tag exists yet, so the build happens once per machine and per redis-server binary.

// DockerImageRepo is the repository of the node image; its tag is a hash of the image's content.
const DockerImageRepo = "redlock-harness-redis"

// Paths inside the image.
const (
	dockerRedisPath = "/usr/bin/redis-server"
	dockerDataDir   = "/data"
	dockerFakeDir   = "/opt/redlock-harness/faketime"
)

const dockerfile = `FROM scratch
COPY rootfs/ /
WORKDIR ` + dockerDataDir + `
EXPOSE 6379
ENTRYPOINT ["` + dockerRedisPath + `"]
`

// imageFile is one file of the image: where it goes and where its content comes from on the host.
type imageFile struct {
	dst  string // absolute path inside the image
	src  string // host file holding the content (symlinks resolved), or empty with data
	data []byte
	mode os.FileMode
}

// imageSpec lists the image's files; its tag is derived from their paths, modes and content.
type imageSpec struct {
	files []imageFile
	// variant names what the image is for ("redis", "redis+faketime"): images of one variant built from older
	// files (another redis-server, another libfaketime) are pruned when a new one is built, while the other
	// variant, still in use, is kept.
	variant string
}

// nodeImageSpec gathers the files of the node image: redis-server (the real file behind any symlink, under the
// name redis-server, since the binary picks its mode from its name), every library ldd lists for it and for
// extra (preload libraries such as libfaketime), at the paths ldd gives, and minimal /etc/passwd and /etc/group.
// extra maps an image path to a host path.
func nodeImageSpec(redisServer string, extra map[string]string) (*imageSpec, error) {
	real, err := filepath.EvalSymlinks(redisServer)
	if err != nil {
		return nil, fmt.Errorf("docker image: %w", err)
	}
	spec := &imageSpec{variant: "redis"}
	if len(extra) > 0 {
		spec.variant = "redis+faketime"
	}
	seen := map[string]bool{}
	add := func(dst, src string, mode os.FileMode) error {
		if seen[dst] {
			return nil
		}
		realSrc, err := filepath.EvalSymlinks(src)
		if err != nil {
			return fmt.Errorf("docker image: %w", err)
		}
		seen[dst] = true
		spec.files = append(spec.files, imageFile{dst: dst, src: realSrc, mode: mode})
		return nil
	}
	if err := add(dockerRedisPath, real, 0o755); err != nil {
		return nil, err
	}
	objects := []string{real}
	for dst, src := range extra {
		if err := add(dst, src, 0o755); err != nil {
			return nil, err
		}
		objects = append(objects, src)
	}
	for _, obj := range objects {
		libs, err := sharedLibraries(obj)
		if err != nil {
			return nil, err
		}
		for _, lib := range libs {
			if err := add(lib, lib, 0o755); err != nil {
				return nil, err
			}
		}
	}
	spec.files = append(spec.files,
		imageFile{dst: "/etc/passwd", data: []byte("root:x:0:0:root:/data:/usr/sbin/nologin\n"), mode: 0o644},
		imageFile{dst: "/etc/group", data: []byte("root:x:0:\n"), mode: 0o644},
	)
	sort.Slice(spec.files, func(i, j int) bool { return spec.files[i].dst < spec.files[j].dst })
	return spec, nil
}

// sharedLibraries runs ldd on a binary or shared object and returns the absolute paths of the libraries it
// loads, the dynamic loader included.
func sharedLibraries(path string) ([]string, error) {
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		return nil, fmt.Errorf("docker image: ldd %s: %v (is ldd installed?)", path, err)
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.Contains(line, "not found") {
			return nil, fmt.Errorf("docker image: %s: a library is missing on this host: %s", path, line)
		}
		if _, rest, ok := strings.Cut(line, "=>"); ok {
			line = strings.TrimSpace(rest)
		}
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "/") {
			continue // linux-vdso.so.1 and the like live in the kernel
		}
		libs = append(libs, f[0])
	}
	return libs, nil
}

// tag hashes the Dockerfile and every file's path, mode and content.
func (s *imageSpec) tag() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", dockerfile, s.variant)
	for _, f := range s.files {
		data := f.data
		if f.src != "" {
			b, err := os.ReadFile(f.src)
			if err != nil {
				return "", fmt.Errorf("docker image: %w", err)
			}
			data = b
		}
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", f.dst, f.mode, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// writeContext lays the build context out in dir: the Dockerfile and rootfs/ holding the image's files.
func (s *imageSpec) writeContext(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "rootfs", dockerDataDir), 0o755); err != nil {
		return err
	}
	for _, f := range s.files {
		dst := filepath.Join(dir, "rootfs", f.dst)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		data := f.data
		if f.src != "" {
			b, err := os.ReadFile(f.src)
			if err != nil {
				return err
			}
			data = b
		}
		if err := os.WriteFile(dst, data, f.mode); err != nil {
			return err
		}
		if err := os.Chmod(dst, f.mode); err != nil { // WriteFile's mode is filtered by the umask
			return err
		}
	}
	return nil
}

var (
	imageMu    sync.Mutex
	imageReady = map[string]bool{} // image references known to exist
)

// ensureImage returns the reference of the node image built from spec, building it when the engine does not
// have it yet. built says whether it was built by this call.
func ensureImage(ctx context.Context, p *testcontainers.DockerProvider, spec *imageSpec) (ref string, built bool, err error) {
	tag, err := spec.tag()
	if err != nil {
		return "", false, err
	}
	ref = DockerImageRepo + ":" + tag
	imageMu.Lock()
	defer imageMu.Unlock()
	if imageReady[ref] {
		return ref, false, nil
	}
	if _, err := p.Client().ImageInspect(ctx, ref); err == nil {
		imageReady[ref] = true
		return ref, false, nil
	} else if !errdefs.IsNotFound(err) {
		return "", false, fmt.Errorf("docker image %s: %w", ref, err)
	}
	dir, err := os.MkdirTemp("", "redlock-harness-image-")
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(dir)
	if err := spec.writeContext(dir); err != nil {
		return "", false, fmt.Errorf("docker image: build context: %w", err)
	}
	var buildLog bytes.Buffer
	req := &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: dir, Repo: DockerImageRepo, Tag: tag, KeepImage: true, BuildLogWriter: &buildLog,
		BuildOptionsModifier: func(o *client.ImageBuildOptions) {
			o.Labels = map[string]string{dockerLabelImage: spec.variant}
		},
	}}
	if _, err := p.BuildImage(ctx, req); err != nil {
		return "", false, fmt.Errorf("docker image %s: build: %w\n%s", ref, err, tail(buildLog.String(), 800))
	}
	imageReady[ref] = true
	pruneOlderImages(ctx, p.Client(), spec.variant, ref)
	return ref, true, nil
}

// pruneBound bounds the pruning of older images, listing and removals together.
const pruneBound = 30 * time.Second

// imageLister is the part of the Docker client pruneOlderImages uses.
type imageLister interface {
	ImageList(ctx context.Context, options client.ImageListOptions) (client.ImageListResult, error)
	ImageRemove(ctx context.Context, imageID string, options client.ImageRemoveOptions) (client.ImageRemoveResult, error)
}

// pruneOlderImages removes the node images of variant other than keep: built from files the host no longer has
// (an upgraded redis-server), they would otherwise pile up, one per upgrade. An image a container still uses
// stays (the engine refuses to remove it; a later build retries). It returns the references removed.
func pruneOlderImages(ctx context.Context, c imageLister, variant, keep string) []string {
	ctx, cancel := context.WithTimeout(ctx, pruneBound) // housekeeping: never worth holding a run up for
	defer cancel()
	list, err := c.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", dockerLabelImage+"="+variant)})
	if err != nil {
		return nil
	}
	var removed []string
	for _, img := range list.Items {
		if slices.Contains(img.RepoTags, keep) {
			continue
		}
		if _, err := c.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{}); err == nil {
			removed = append(removed, strings.Join(img.RepoTags, ","))
		}
	}
	if len(removed) > 0 {
		fmt.Fprintf(os.Stderr, "docker: removed %d node image(s) of older content: %s\n", len(removed), strings.Join(removed, " "))
	}
	return removed
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
