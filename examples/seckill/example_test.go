package main

import (
	"fmt"
	"time"
)

// --start-at takes the seed's bare minute, a clock time or an offset.
func Example_parseStartAt() {
	now := time.Date(2026, 12, 4, 13, 41, 30, 0, time.UTC)
	for _, s := range []string{"42", "13:45:00", "+2s"} {
		t, err := parseStartAt(s, now)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-9s starts at %s\n", s, t.Format("15:04:05"))
	}
	// Output:
	// 42        starts at 13:42:00
	// 13:45:00  starts at 13:45:00
	// +2s       starts at 13:41:32
}

// A buyer's lines, as the seed prints them: unnumbered in the plain and
// object-lock versions, numbered by the task's index in the lock versions.
func Example_outcomeLine() {
	fmt.Println(outcome{ok: true, stock: 10, orders: 1}.line(6, false, 5))
	fmt.Println(outcome{}.line(6, false, 5))
	fmt.Println(outcome{ok: true, stock: 9, orders: 2}.line(27, true, 8))
	fmt.Println(outcome{reason: reasonNoLock}.line(3, true, 8))
	// Output:
	// 抢购成功*****线程id：05,库存：10,订单数量：1
	// 抢购失败
	// 27抢购成功*****线程id：08,库存：9,订单数量：2
	// 3抢购失败：原因：没有拿到锁
}
