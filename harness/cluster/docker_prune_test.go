package cluster

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
)

// fakeImages is an engine holding images by ID; inUse ones refuse removal, as the engine does.
type fakeImages struct {
	images  []image.Summary
	inUse   map[string]bool
	filter  client.Filters
	removed []string
}

func (f *fakeImages) ImageList(_ context.Context, o client.ImageListOptions) (client.ImageListResult, error) {
	f.filter = o.Filters
	return client.ImageListResult{Items: f.images}, nil
}

func (f *fakeImages) ImageRemove(_ context.Context, id string, _ client.ImageRemoveOptions) (client.ImageRemoveResult, error) {
	if f.inUse[id] {
		return client.ImageRemoveResult{}, errors.New("conflict: image is being used by a running container")
	}
	f.removed = append(f.removed, id)
	return client.ImageRemoveResult{}, nil
}

func TestANewNodeImageRemovesTheOlderImagesOfItsVariantButNotOneInUse(t *testing.T) {
	keep := DockerImageRepo + ":new"
	f := &fakeImages{
		images: []image.Summary{
			{ID: "sha-new", RepoTags: []string{keep}},
			{ID: "sha-old", RepoTags: []string{DockerImageRepo + ":old"}},
			{ID: "sha-busy", RepoTags: []string{DockerImageRepo + ":busy"}},
		},
		inUse: map[string]bool{"sha-busy": true},
	}
	got := pruneOlderImages(context.Background(), f, "redis", keep)
	if !slices.Equal(f.removed, []string{"sha-old"}) {
		t.Fatalf("removed %v, want only the older image sha-old (the new one kept, the busy one refused)", f.removed)
	}
	if !slices.Equal(got, []string{DockerImageRepo + ":old"}) {
		t.Fatalf("reported %v as removed", got)
	}
	if !f.filter["label"][dockerLabelImage+"=redis"] {
		t.Fatalf("listed images with filter %v: only the variant's own images may be pruned", f.filter)
	}
}
