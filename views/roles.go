package views

// What each role may do, said once: the Users page lists both, and the
// confirmation of an admin making themself a viewer lists what they lose
// (AdminOnly) and keep (ViewerCan). The routes in internal/app enforce it.
var (
	// ViewerCan is everything a viewer does; admins do it too.
	ViewerCan = []string{
		"see the inventory, and re-read a database's card",
		"open every link page: foreign tables and columns, drift, health (and “Check now”), Heroku Connect sync state, saved query checks and performance options",
		"see Replication: subscriptions, publications and slots with their warnings",
		"see Connection info (host, port, user, sslmode; never a password)",
		"change their own password under Account",
	}
	// AdminOnly is what admins do beyond a viewer.
	AdminOnly = []string{
		"create, refresh, repair and destroy data links, and import more tables into them",
		"check queries over a link, change a link's options and analyze its foreign tables",
		"create publications and subscriptions; enable, disable and drop subscriptions; drop replication slots",
		"add and remove users, change their roles and reset their passwords",
		"read and export the audit trail",
	}
)
