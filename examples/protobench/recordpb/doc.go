// Package recordpb is the generated Go code of post.proto: the course's
// PostInfo record {id, title, content} and PostList, a list of them.
//
// post.pb.go is generated and committed; building needs no protoc. After
// editing post.proto, regenerate with go generate (see gen.sh for the tool
// version).
package recordpb

//go:generate sh gen.sh
