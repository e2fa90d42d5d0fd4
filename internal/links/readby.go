package links

// ReadBy lists, for each fleet database (by config var), the links in the
// other fleet databases that read from it, as found in an inventory. Before
// a credential rotation or failover of a database, these are the links it
// will break; after it, the ones to repair.
func ReadBy(inv []DatabaseStatus) map[string][]Link {
	out := map[string][]Link{}
	for _, st := range inv {
		for _, l := range st.Links {
			if l.RemoteConfigVar == "" || l.RemoteConfigVar == st.DB.ConfigVar {
				continue
			}
			out[l.RemoteConfigVar] = append(out[l.RemoteConfigVar], l)
		}
		// A database that could not be read still holds the links pglinks
		// made there: leaving them out would say nothing reads the remote.
		for _, r := range st.Recorded {
			if r.RemoteConfigVar == "" || r.RemoteConfigVar == st.DB.ConfigVar {
				continue
			}
			out[r.RemoteConfigVar] = append(out[r.RemoteConfigVar], Link{Name: r.Name, LocalConfigVar: st.DB.ConfigVar, RemoteConfigVar: r.RemoteConfigVar, Unread: true})
		}
	}
	return out
}
