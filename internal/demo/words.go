package demo

// The words the demo's people, companies, deals and tickets are made of.

var firstNames = []string{
	"Ada", "Alan", "Amara", "Anna", "Arjun", "Aylin", "Ben", "Bianca", "Carlos", "Chen", "Chloe", "Daniel",
	"Dmitri", "Elena", "Elif", "Emil", "Emma", "Farah", "Felix", "Fatima", "Grace", "Hana", "Hugo", "Ines",
	"Ivan", "Jakob", "Jana", "Jonas", "Julia", "Kai", "Karin", "Kenji", "Lara", "Leon", "Lina", "Lucas",
	"Maja", "Marco", "Maria", "Mateo", "Mia", "Mohammed", "Nadia", "Nils", "Noah", "Olga", "Omar", "Paula",
	"Pedro", "Priya", "Rafael", "Rosa", "Sami", "Sara", "Sofia", "Tariq", "Theo", "Vera", "Yuki", "Zoe",
}

var lastNames = []string{
	"Achterberg", "Almeida", "Andersson", "Bauer", "Becker", "Bianchi", "Brandt", "Castillo", "Costa", "Dahl",
	"Demir", "Dubois", "Eriksen", "Fischer", "Fontaine", "García", "Graf", "Hansen", "Hoffmann", "Ivanova",
	"Jansen", "Kaya", "Keller", "Kowalski", "Kraus", "Lambert", "Larsen", "Lehmann", "Lopez", "Martin",
	"Meier", "Moreau", "Müller", "Nakamura", "Neumann", "Novak", "Okafor", "Olsen", "Patel", "Peters",
	"Richter", "Rossi", "Santos", "Schmid", "Schneider", "Silva", "Sørensen", "Suzuki", "Tanaka", "Vogel",
	"Wagner", "Weber", "Wolf", "Yilmaz", "Zimmermann", "Żak", "Øster", "Nguyen", "Haddad", "Ferreira",
}

var companyFirst = []string{
	"Alpen", "Blue", "Bright", "Cedar", "Copper", "Delta", "Elm", "Falcon", "Granite", "Harbor", "Iron",
	"Juniper", "Lakeside", "Maple", "Nordic", "Oak", "Pine", "Quartz", "River", "Silver", "Stone", "Summit",
	"Tidal", "Urban", "Vista", "Willow",
}

var companySecond = []string{
	"Analytics", "Bakery", "Bikes", "Coffee", "Consulting", "Design", "Dynamics", "Foods", "Health",
	"Labs", "Logistics", "Media", "Motors", "Optics", "Robotics", "Software", "Solar", "Studios", "Systems",
	"Textiles", "Travel", "Works",
}

var companyForms = []string{"GmbH", "AG", "Ltd", "Inc.", "SA", "BV", "AB", "Oy"}

var tlds = []string{"com", "de", "ch", "co.uk", "fr", "nl", "se", "io"}

var industries = []string{"retail", "manufacturing", "software", "healthcare", "logistics", "media", "hospitality"}

var cities = []string{
	"Berlin", "Hamburg", "Munich", "Zurich", "Vienna", "Amsterdam", "Copenhagen", "Stockholm", "Paris", "Lyon",
	"London", "Manchester", "Madrid", "Lisbon", "Milan", "Warsaw", "Prague", "Oslo", "Helsinki", "Dublin",
}

var plans = []string{"free", "starter", "pro", "enterprise"}

var webEvents = []string{"page_viewed", "pricing_page_viewed", "pricing_calculator_used", "webinar_registered",
	"whitepaper_downloaded", "trial_started", "demo_requested"}

var callOutcomes = []string{"reached", "left voicemail", "no answer", "call back later"}

var emailSubjects = []string{"Following up on our call", "Your quote", "Welcome aboard", "Meeting notes",
	"Question about your order", "Renewal reminder"}

var meetingNames = []string{"Discovery call", "Product demo", "Quarterly review", "Onboarding session", "Pricing workshop"}

var products = []struct {
	SKU, Name string
	Cents     int64
}{
	{"LIC-STARTER", "Starter licence (annual)", 49000},
	{"LIC-PRO", "Pro licence (annual)", 129000},
	{"LIC-ENT", "Enterprise licence (annual)", 490000},
	{"SUP-PREM", "Premium support", 99000},
	{"ONB-DAY", "Onboarding day", 120000},
	{"TRN-SEAT", "Training seat", 35000},
}

var dealTitles = []string{"licences", "renewal", "expansion", "pilot", "rollout", "onboarding package"}

var dealSources = []string{"webinar", "referral", "website", "event", "outbound", "partner"}

var lostReasons = []string{"price", "timing", "competitor", "no budget", "no decision"}

var ticketSubjects = []string{
	"Cannot log in after the update", "Invoice shows the wrong address", "Export to CSV is slow",
	"How do I add a second user?", "Password reset mail does not arrive", "Question about my renewal",
	"Feature request: dark mode", "Error 500 when saving a report", "Change of billing contact",
	"Integration with our shop stopped syncing",
}

var customerMessages = []string{
	"Hello, since this morning %s. Could you have a look? Thanks!",
	"Hi team, %s — this is blocking our work today.",
	"Good afternoon, we noticed that %s. What can we do?",
}

var agentReplies = []string{
	"Thanks for reaching out. I have reproduced the problem and passed it to our engineers; I will update you shortly.",
	"Thank you for the details. Could you send us a screenshot of the message you see?",
	"Sorry for the trouble. This is fixed now — could you try again and let us know?",
	"Thanks! I have changed this for you; the next invoice will show the new details.",
}
