package cli

import "fmt"

// info writes one line to ui.Out, as Consul's UI.Info does.
func (ui *UI) info(format string, args ...any) {
	fmt.Fprintf(ui.Out, format+"\n", args...)
}

// error writes one line to ui.Err, as Consul's UI.Error does.
func (ui *UI) error(format string, args ...any) {
	fmt.Fprintf(ui.Err, format+"\n", args...)
}
