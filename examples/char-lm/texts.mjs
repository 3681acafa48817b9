// SPDX-License-Identifier: MIT
// Original short prose (written for this repository, MIT like the code) in seven languages:
// the hand-written part of the char-lm corpus. Each language is a list of paragraphs.
// Invariant: plain Unicode text, one paragraph per string, no markup.

/**
 * Paragraphs per language code.
 *
 * @example
 * PASSAGES.de.length; // number of German paragraphs
 */
export const PASSAGES = {
  en: [
    'The village lies between two hills, and every morning the fog rolls down from the higher one and settles over the roofs. The baker is the first to wake. He lights the oven, shapes the bread, and waits for the smell to wake the others.',
    'In spring the river grows loud. The children stand on the old stone bridge and count the branches that float past: one, two, three, and then too many to count. Their grandmother tells them that the river remembers every winter.',
    'A fisherman once found a bottle in his net. Inside was a letter written in a language he did not know. He kept it on the shelf above his bed for many years, and every evening he read it aloud, as if the words might one day answer.',
    'The market opens at seven. There are apples and pears, onions and garlic, eggs in straw baskets, and cheese wrapped in cloth. People talk about the weather, the prices, the wedding next Saturday, and the new teacher at the school.',
    'When the wind comes from the sea, the windows rattle and the cats hide under the stairs. The old sailor laughs and says that a house that never rattles has never heard a story worth telling.',
    'She walked along the shore until the lights of the town were small behind her. The sand was cold, the stars were bright, and for the first time in weeks she did not think about tomorrow.',
    'Numbers are patient. They wait in every field and every song, in the steps of a dance and the rows of a garden. A good gardener counts without thinking, and a good singer keeps time without counting.',
  ],
  de: [
    'Das Dorf liegt zwischen zwei Hügeln, und jeden Morgen rollt der Nebel vom höheren herab und legt sich über die Dächer. Der Bäcker wacht als Erster auf. Er heizt den Ofen, formt das Brot und wartet, bis der Duft die anderen weckt.',
    'Im Frühling wird der Fluss laut. Die Kinder stehen auf der alten Steinbrücke und zählen die Äste, die vorbeitreiben: eins, zwei, drei, und dann zu viele, um sie zu zählen. Die Großmutter sagt, der Fluss erinnere sich an jeden Winter.',
    'Ein Fischer fand einmal eine Flasche in seinem Netz. Darin lag ein Brief in einer Sprache, die er nicht kannte. Er stellte ihn viele Jahre lang auf das Regal über seinem Bett und las ihn jeden Abend laut vor, als könnten die Worte eines Tages antworten.',
    'Der Markt öffnet um sieben Uhr. Es gibt Äpfel und Birnen, Zwiebeln und Knoblauch, Eier in Strohkörben und Käse, der in Tücher gewickelt ist. Die Leute reden über das Wetter, die Preise, die Hochzeit am nächsten Samstag und den neuen Lehrer in der Schule.',
    'Wenn der Wind vom Meer kommt, klirren die Fenster, und die Katzen verstecken sich unter der Treppe. Der alte Seemann lacht und sagt, ein Haus, das nie klirrt, habe nie eine Geschichte gehört, die es wert ist, erzählt zu werden.',
    'Sie ging am Ufer entlang, bis die Lichter der Stadt klein hinter ihr waren. Der Sand war kalt, die Sterne waren hell, und zum ersten Mal seit Wochen dachte sie nicht an morgen.',
    'Zahlen sind geduldig. Sie warten in jedem Feld und in jedem Lied, in den Schritten eines Tanzes und in den Reihen eines Gartens. Eine gute Gärtnerin zählt, ohne nachzudenken, und ein guter Sänger hält den Takt, ohne zu zählen.',
  ],
  es: [
    'El pueblo está entre dos colinas, y cada mañana la niebla baja de la más alta y se posa sobre los tejados. El panadero es el primero en despertar. Enciende el horno, forma el pan y espera a que el olor despierte a los demás.',
    'En primavera el río se vuelve ruidoso. Los niños se quedan en el viejo puente de piedra y cuentan las ramas que pasan flotando: una, dos, tres, y luego demasiadas para contarlas. Su abuela les dice que el río recuerda cada invierno.',
    'Un pescador encontró una vez una botella en su red. Dentro había una carta escrita en un idioma que no conocía. La guardó muchos años en el estante sobre su cama, y cada noche la leía en voz alta, como si las palabras pudieran responder algún día.',
    'El mercado abre a las siete. Hay manzanas y peras, cebollas y ajos, huevos en cestas de paja y queso envuelto en tela. La gente habla del tiempo, de los precios, de la boda del sábado que viene y del nuevo maestro de la escuela.',
    'Cuando el viento viene del mar, las ventanas tiemblan y los gatos se esconden bajo la escalera. El viejo marinero se ríe y dice que una casa que nunca tiembla nunca ha oído una historia que valga la pena contar.',
    'Ella caminó por la orilla hasta que las luces del pueblo quedaron pequeñas detrás de ella. La arena estaba fría, las estrellas brillaban, y por primera vez en semanas no pensó en el día de mañana.',
    'Los números son pacientes. Esperan en cada campo y en cada canción, en los pasos de un baile y en las filas de un huerto. Una buena jardinera cuenta sin pensar, y un buen cantante lleva el ritmo sin contar.',
  ],
  it: [
    'Il paese si trova tra due colline, e ogni mattina la nebbia scende da quella più alta e si posa sui tetti. Il fornaio è il primo a svegliarsi. Accende il forno, dà forma al pane e aspetta che il profumo svegli gli altri.',
    'In primavera il fiume diventa rumoroso. I bambini stanno sul vecchio ponte di pietra e contano i rami che passano galleggiando: uno, due, tre, e poi troppi da contare. La nonna dice loro che il fiume si ricorda di ogni inverno.',
    'Un pescatore trovò una volta una bottiglia nella sua rete. Dentro c\'era una lettera scritta in una lingua che non conosceva. La tenne per molti anni sulla mensola sopra il letto, e ogni sera la leggeva ad alta voce, come se le parole potessero un giorno rispondere.',
    'Il mercato apre alle sette. Ci sono mele e pere, cipolle e aglio, uova in cesti di paglia e formaggio avvolto nella stoffa. La gente parla del tempo, dei prezzi, del matrimonio di sabato prossimo e del nuovo maestro della scuola.',
    'Quando il vento arriva dal mare, le finestre tremano e i gatti si nascondono sotto le scale. Il vecchio marinaio ride e dice che una casa che non trema mai non ha mai sentito una storia che valga la pena raccontare.',
    'Camminò lungo la riva finché le luci della città non furono piccole dietro di lei. La sabbia era fredda, le stelle erano luminose, e per la prima volta da settimane non pensò al domani.',
    'I numeri sono pazienti. Aspettano in ogni campo e in ogni canzone, nei passi di una danza e nelle file di un orto. Una brava giardiniera conta senza pensare, e un bravo cantante tiene il tempo senza contare.',
  ],
  pt: [
    'A aldeia fica entre duas colinas, e todas as manhãs o nevoeiro desce da mais alta e pousa sobre os telhados. O padeiro é o primeiro a acordar. Acende o forno, molda o pão e espera que o cheiro acorde os outros.',
    'Na primavera o rio fica barulhento. As crianças ficam na velha ponte de pedra e contam os ramos que passam a flutuar: um, dois, três, e depois demasiados para contar. A avó diz-lhes que o rio se lembra de cada inverno.',
    'Um pescador encontrou uma vez uma garrafa na sua rede. Lá dentro havia uma carta escrita numa língua que ele não conhecia. Guardou-a durante muitos anos na prateleira por cima da cama, e todas as noites lia-a em voz alta, como se as palavras pudessem um dia responder.',
    'O mercado abre às sete. Há maçãs e peras, cebolas e alhos, ovos em cestos de palha e queijo embrulhado em pano. As pessoas falam do tempo, dos preços, do casamento do próximo sábado e do novo professor da escola.',
    'Quando o vento vem do mar, as janelas estremecem e os gatos escondem-se debaixo da escada. O velho marinheiro ri-se e diz que uma casa que nunca estremece nunca ouviu uma história que valha a pena contar.',
    'Ela caminhou pela margem até as luzes da vila ficarem pequenas atrás dela. A areia estava fria, as estrelas brilhavam, e pela primeira vez em semanas não pensou no dia de amanhã.',
    'Os números são pacientes. Esperam em cada campo e em cada canção, nos passos de uma dança e nas filas de uma horta. Uma boa jardineira conta sem pensar, e um bom cantor marca o tempo sem contar.',
  ],
  id: [
    'Desa itu terletak di antara dua bukit, dan setiap pagi kabut turun dari bukit yang lebih tinggi lalu menyelimuti atap rumah. Tukang roti adalah orang pertama yang bangun. Ia menyalakan oven, membentuk roti, dan menunggu aromanya membangunkan yang lain.',
    'Pada musim hujan sungai menjadi ramai. Anak-anak berdiri di jembatan batu yang tua dan menghitung ranting yang hanyut: satu, dua, tiga, lalu terlalu banyak untuk dihitung. Nenek mereka berkata bahwa sungai mengingat setiap musim.',
    'Seorang nelayan pernah menemukan sebuah botol di dalam jalanya. Di dalamnya ada sepucuk surat dalam bahasa yang tidak ia kenal. Ia menyimpannya bertahun-tahun di rak di atas tempat tidurnya, dan setiap malam ia membacanya dengan suara keras, seolah-olah kata-kata itu suatu hari akan menjawab.',
    'Pasar dibuka pukul tujuh. Ada apel dan pir, bawang merah dan bawang putih, telur di keranjang jerami, dan keju yang dibungkus kain. Orang-orang berbicara tentang cuaca, harga, pernikahan hari Sabtu depan, dan guru baru di sekolah.',
    'Ketika angin datang dari laut, jendela bergetar dan kucing bersembunyi di bawah tangga. Pelaut tua itu tertawa dan berkata bahwa rumah yang tidak pernah bergetar belum pernah mendengar cerita yang layak diceritakan.',
    'Ia berjalan menyusuri pantai sampai lampu-lampu kota tampak kecil di belakangnya. Pasirnya dingin, bintang-bintang bersinar terang, dan untuk pertama kalinya dalam beberapa minggu ia tidak memikirkan hari esok.',
    'Angka itu sabar. Angka menunggu di setiap ladang dan setiap lagu, di langkah sebuah tarian dan di barisan sebuah kebun. Tukang kebun yang baik menghitung tanpa berpikir, dan penyanyi yang baik menjaga irama tanpa menghitung.',
  ],
  fr: [
    'Le village se trouve entre deux collines, et chaque matin le brouillard descend de la plus haute et se pose sur les toits. Le boulanger est le premier à se réveiller. Il allume le four, façonne le pain et attend que l\'odeur réveille les autres.',
    'Au printemps la rivière devient bruyante. Les enfants se tiennent sur le vieux pont de pierre et comptent les branches qui passent en flottant : une, deux, trois, puis trop pour les compter. Leur grand-mère leur dit que la rivière se souvient de chaque hiver.',
    'Un pêcheur trouva un jour une bouteille dans son filet. À l\'intérieur se trouvait une lettre écrite dans une langue qu\'il ne connaissait pas. Il la garda des années sur l\'étagère au-dessus de son lit, et chaque soir il la lisait à voix haute, comme si les mots pouvaient un jour répondre.',
    'Le marché ouvre à sept heures. Il y a des pommes et des poires, des oignons et de l\'ail, des œufs dans des paniers de paille et du fromage enveloppé dans un tissu. Les gens parlent du temps, des prix, du mariage de samedi prochain et du nouvel instituteur.',
    'Quand le vent vient de la mer, les fenêtres tremblent et les chats se cachent sous l\'escalier. Le vieux marin rit et dit qu\'une maison qui ne tremble jamais n\'a jamais entendu une histoire digne d\'être racontée.',
    'Elle marcha le long du rivage jusqu\'à ce que les lumières de la ville soient petites derrière elle. Le sable était froid, les étoiles brillaient, et pour la première fois depuis des semaines elle ne pensa pas au lendemain.',
    'Les nombres sont patients. Ils attendent dans chaque champ et dans chaque chanson, dans les pas d\'une danse et dans les rangs d\'un potager. Une bonne jardinière compte sans réfléchir, et un bon chanteur garde la mesure sans compter.',
  ],
};
