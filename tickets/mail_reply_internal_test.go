package tickets

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The new part of replies as the common mail programs write them.
func TestReplyText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"gmail", "It is out now.\n\nOn Mon, 2 Mar 2026 at 08:59, Ada Lovelace <ada@example.com> wrote:\n> Hello,\n>\n> the printer is on fire.\n",
			"It is out now."},
		{"gmail, the attribution wrapped", "Thanks!\n\nOn Mon, 2 Mar 2026 at 08:59, Support Team of the Company <support@support.example>\nwrote:\n\n> We are sending a technician.\n",
			"Thanks!"},
		{"thunderbird, German", "Danke.\r\n\r\nAm 02.03.2026 um 11:45 schrieb Support:\r\n> Wir schicken einen Techniker.\r\n",
			"Danke."},
		{"apple mail, German", "Passt.\n\n> Am 02.03.2026 um 11:45 schrieb Support <support@support.example>:\n> \n> Wir schicken jemanden.\n",
			"Passt."},
		{"outlook, German, separator", "Danke für die schnelle Antwort!\n\nGrüße\nAda\n\n________________________________\nVon: Support <support@support.example>\nGesendet: Montag, 2. März 2026 11:45\nBetreff: Printer on fire [#1]\n\nWe are sending a technician.\n",
			"Danke für die schnelle Antwort!\n\nGrüße\nAda"},
		{"outlook, header block only", "Fine by me.\n\nFrom: Support <support@support.example>\nSent: Monday, March 2, 2026 11:45 AM\nTo: Ada\nSubject: RE: Printer\n\nWe are sending a technician.\n",
			"Fine by me."},
		{"original message", "See below.\n\n-----Original Message-----\nFrom: Support\nWe are sending a technician.\n", "See below."},
		{"signature", "It works again.\n\n-- \nAda Lovelace\nAnalytical Engines Ltd.\n", "It works again."},
		{"inline answers are kept", "On Mon, 2 Mar 2026 at 08:59, Support <support@support.example> wrote:\n> Which floor?\nThe third.\n> Which room?\n301.\n",
			"On Mon, 2 Mar 2026 at 08:59, Support <support@support.example> wrote:\n> Which floor?\nThe third.\n> Which room?\n301."},
		{"all quote is kept", "On Mon, 2 Mar 2026 at 08:59, Ada <ada@example.com> wrote:\n> Hello\n", "On Mon, 2 Mar 2026 at 08:59, Ada <ada@example.com> wrote:\n> Hello"},
		{"a trailing quote without attribution", "Yes.\n\n> Shall we send someone?\n> Support\n", "Yes."},
		{"plain text", "Nothing quoted here.\nOn second thought, all fine.", "Nothing quoted here.\nOn second thought, all fine."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, replyText(tc.in))
		})
	}
}
