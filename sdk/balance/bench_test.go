package balance

import "testing"

// BenchmarkPick measures one Pick and its Done on a list of 10 instances,
// for each policy, from one goroutine and from GOMAXPROCS goroutines.
func BenchmarkPick(b *testing.B) {
	insts := list(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	for _, name := range Policies() {
		b.Run(name, func(b *testing.B) {
			bal, _ := New(name)
			b.ReportAllocs()
			for b.Loop() {
				_, done, err := bal.Pick(insts)
				if err != nil {
					b.Fatal(err)
				}
				done()
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			bal, _ := New(name)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, done, err := bal.Pick(insts)
					if err != nil {
						b.Error(err)
						return
					}
					done()
				}
			})
		})
	}
}
