package main

import (
	"encoding/json"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/musterhq/muster/examples/protobench/recordpb"
)

// SeedRecords is how many records the course serializes.
const SeedRecords = 15000

// Post is the course's PostInfo class as a plain Go struct: what
// encoding/json serializes, as Newtonsoft.Json serialized the C# class.
// recordpb.PostInfo is the same record for protobuf.
type Post struct {
	ID      int32
	Title   string
	Content string
}

// newPosts builds the course's data: n records with IDs 0..n-1, the title
// "title" and the content "这是内容" (12 bytes of UTF-8).
func newPosts(n int) []Post {
	posts := make([]Post, n)
	for i := range posts {
		posts[i] = Post{ID: int32(i), Title: "title", Content: "这是内容"}
	}
	return posts
}

// toProto copies posts into the protobuf message. It is setup, not part of
// what is measured: each format serializes its own natural type.
func toProto(posts []Post) *recordpb.PostList {
	l := &recordpb.PostList{Posts: make([]*recordpb.PostInfo, len(posts))}
	for i, p := range posts {
		l.Posts[i] = &recordpb.PostInfo{Id: p.ID, Title: p.Title, Content: p.Content}
	}
	return l
}

// A format serializes the same records one way. marshal and unmarshal are
// what the benchmarks and the table time; unmarshal decodes into a fresh
// value each call and returns how many records it read.
type format struct {
	name      string
	marshal   func() ([]byte, error)
	unmarshal func(data []byte) (int, error)
}

// formats returns the two formats the course compares, over the same posts.
func formats(posts []Post) []format {
	list := toProto(posts)
	return []format{
		{
			name:    "protobuf",
			marshal: func() ([]byte, error) { return proto.Marshal(list) },
			unmarshal: func(data []byte) (int, error) {
				var got recordpb.PostList
				if err := proto.Unmarshal(data, &got); err != nil {
					return 0, fmt.Errorf("protobench: protobuf: %w", err)
				}
				return len(got.Posts), nil
			},
		},
		{
			name:    "json",
			marshal: func() ([]byte, error) { return json.Marshal(posts) },
			unmarshal: func(data []byte) (int, error) {
				var got []Post
				if err := json.Unmarshal(data, &got); err != nil {
					return 0, fmt.Errorf("protobench: json: %w", err)
				}
				return len(got), nil
			},
		},
	}
}
