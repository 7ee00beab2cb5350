-- Mail threading. crm_ticket_mail keys every mail of a ticket by its
-- Message-ID (msgid: RFC 5322's msg-id, without angle brackets): the mails that opened a ticket or were added to one
-- (direction in, with the message they became) and those the host sent
-- about a ticket (direction out, Tickets.MailSent). A reply's
-- In-Reply-To or References finds its ticket here, and the key makes a
-- second delivery of one mail add nothing.
CREATE TABLE crm_ticket_mail (
	tenant_id         TEXT NOT NULL,
	msgid             TEXT NOT NULL,
	ticket_id         {{ID}} NOT NULL,
	ticket_message_id {{ID}},
	direction         {{TEXT}} NOT NULL,
	created_at        {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, msgid),
	FOREIGN KEY (tenant_id, ticket_id) REFERENCES crm_tickets (tenant_id, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, ticket_message_id) REFERENCES crm_ticket_messages (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_ticket_mail_ticket ON crm_ticket_mail (tenant_id, ticket_id);
CREATE INDEX crm_ticket_mail_message ON crm_ticket_mail (tenant_id, ticket_message_id);

-- Links between tickets: a ticket opened by a reply to a closed ticket
-- continues it (follow_up); one opened by a mail from another address
-- that names a ticket in its subject refers to it (refers_to).
CREATE TABLE crm_ticket_links (
	tenant_id  TEXT NOT NULL,
	ticket_id  {{ID}} NOT NULL,
	linked_id  {{ID}} NOT NULL,
	kind       {{TEXT}} NOT NULL,
	created_at {{TIME}} NOT NULL,
	PRIMARY KEY (tenant_id, ticket_id, linked_id),
	FOREIGN KEY (tenant_id, ticket_id) REFERENCES crm_tickets (tenant_id, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant_id, linked_id) REFERENCES crm_tickets (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX crm_ticket_links_linked ON crm_ticket_links (tenant_id, linked_id);
